/**
 * Local code folders: a content hash (the asset's identity, so an unchanged folder uploads
 * nothing the second time), honouring .amlignore (or .gitignore when there is none), and the
 * upload itself with @azure/storage-blob through the SAS Azure ML hands out.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ProxySettings } from '@azure/core-rest-pipeline';
import ignore, { type Ignore } from 'ignore';
import { UserError } from './errors';
import { isInside } from './files';
import { msg } from './messages';
import { forEachLimit } from './pool';

export interface CodeFile {
  /** Path relative to the code folder, with forward slashes. */
  rel: string;
  abs: string;
  size: number;
}

export interface CodeSnapshot {
  root: string;
  files: CodeFile[];
  bytes: number;
  /** sha256 over paths, sizes and contents: the anonymous code asset's name. */
  hash: string;
}

const ALWAYS_IGNORED = ['.git/', '.amlignore', '__pycache__/', '*.pyc', '.ipynb_checkpoints/'];

function loadIgnore(dir: string): Ignore | undefined {
  for (const name of ['.amlignore', '.gitignore']) {
    const f = path.join(dir, name);
    // .amlignore replaces .gitignore in the same folder, as the CLI does.
    if (fs.existsSync(f)) return ignore().add(fs.readFileSync(f, 'utf8'));
  }
  return undefined;
}

/**
 * List the files to upload. `allowedRoot` is the repository: a symlink that leads outside it is
 * refused, so a pipeline cannot upload the agent's files.
 */
export function snapshotCode(codePath: string, allowedRoot: string, what: string): CodeSnapshot {
  const root = path.resolve(codePath);
  const realRoot = fs.realpathSync(allowedRoot);
  const stat = fs.statSync(root);
  const files: CodeFile[] = [];
  const base = ignore().add(ALWAYS_IGNORED);
  const walk = (dir: string, rules: Array<{ at: string; ig: Ignore }>) => {
    const here = loadIgnore(dir);
    const scoped = here ? [...rules, { at: dir, ig: here }] : rules;
    for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const abs = path.join(dir, entry.name);
      const rel = path.relative(root, abs).split(path.sep).join('/');
      // A link is judged by where it leads before anything reads through it; an ignored one is skipped whatever it is.
      const link = entry.isSymbolicLink() ? linkTarget(abs, rel, realRoot, what) : undefined;
      const target = typeof link === 'string' ? link : undefined;
      const isDir = entry.isDirectory() || (target !== undefined && fs.statSync(target).isDirectory());
      if (base.ignores(isDir ? `${rel}/` : rel)) continue;
      if (scoped.some((r) => {
        const local = path.relative(r.at, abs).split(path.sep).join('/');
        return r.ig.ignores(isDir ? `${local}/` : local);
      })) continue;
      if (link instanceof UserError) throw link;
      if (isDir) walk(abs, scoped);
      else if (entry.isFile() || target !== undefined) files.push({ rel, abs, size: fs.statSync(abs).size });
    }
  };
  if (stat.isDirectory()) walk(root, []);
  else files.push({ rel: path.basename(root), abs: root, size: stat.size });

  const h = createHash('sha256');
  const chunk = Buffer.allocUnsafe(HASH_CHUNK);
  for (const f of files) {
    h.update(`${f.rel}\0${f.size}\0`);
    h.update(hashFile(f.abs, chunk));
  }
  return { root, files, bytes: files.reduce((s, f) => s + f.size, 0), hash: h.digest('hex') };
}

/** The real path a link inside a code folder leads to, or why it cannot be uploaded: a loop, a dangling link, a way out. */
function linkTarget(abs: string, rel: string, realRoot: string, what: string): string | UserError {
  let target: string;
  try {
    target = fs.realpathSync(abs);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return new UserError(code === 'ELOOP' ? msg('CodeLinkLoop', what, rel) : msg('CodeLinkDangling', what, rel, fs.readlinkSync(abs)));
  }
  return isInside(realRoot, target) ? target : new UserError(msg('CodeLinkOutside', what, rel, target));
}

/** Read size of the streaming hash: files of any size (also over 2 GiB) in constant memory. */
const HASH_CHUNK = 1 << 20;

/** sha256 of a file's content, read in chunks into `buf`. */
function hashFile(file: string, buf: Buffer): Buffer {
  const h = createHash('sha256');
  const fd = fs.openSync(file, 'r');
  try {
    for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0; ) h.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return h.digest();
}

export interface UploadProgress {
  (doneBytes: number, totalBytes: number, doneFiles: number, totalFiles: number): void;
}

/**
 * Upload every file of the snapshot into the pending-upload container (`blobUri` is the
 * container Azure ML created for this upload, `sasUri` its SAS), under a folder named after the
 * code folder, as the CLI does. Returns the folder's URL, the code version's codeUri.
 * Runs a few uploads at once; reports progress after each file.
 */
export async function uploadSnapshot(snap: CodeSnapshot, blobUri: string, sasUri: string, onProgress: UploadProgress, signal?: AbortSignal, proxy?: ProxySettings): Promise<string> {
  const { AnonymousCredential, ContainerClient } = await import('@azure/storage-blob');
  // Bounded tries with a per-try timeout, through the agent's proxy when it has one.
  const container = new ContainerClient(sasUri, new AnonymousCredential(), { retryOptions: { maxTries: 5, tryTimeoutInMs: 120_000 }, ...(proxy ? { proxyOptions: proxy } : {}) });
  // Blob names are relative to the container of the SAS; blobUri may point at the container
  // itself or at a folder inside it.
  const containerPath = decodeURIComponent(new URL(sasUri).pathname).replace(/\/+$/, '');
  const basePath = decodeURIComponent(new URL(blobUri).pathname).replace(/\/+$/, '');
  if (basePath !== containerPath && !basePath.startsWith(`${containerPath}/`)) throw new Error(msg('PendingUploadOutsideContainer'));
  // A single-file code path is uploaded into a folder named after the file's stem.
  const folder = snap.files.length === 1 && snap.files[0]!.abs === snap.root ? path.parse(snap.root).name : path.basename(snap.root);
  const prefix = `${basePath.slice(containerPath.length + 1)}${basePath === containerPath ? '' : '/'}${folder}/`;
  let doneBytes = 0;
  let doneFiles = 0;
  await forEachLimit(snap.files, 8, async (f) => {
    await container.getBlockBlobClient(prefix + f.rel).uploadFile(f.abs, { abortSignal: signal });
    doneBytes += f.size;
    doneFiles++;
    onProgress(doneBytes, snap.bytes, doneFiles, snap.files.length);
  });
  return `${blobUri.replace(/\/+$/, '')}/${encodeURIComponent(folder)}`;
}
