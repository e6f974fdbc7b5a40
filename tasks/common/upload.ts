/**
 * Local folders and files for Azure ML (code, job input data, Docker build contexts): the list
 * of files honouring .amlignore (or .gitignore when there is none), a content hash that is the
 * asset's identity (so an unchanged folder uploads nothing the second time), and the upload with
 * @azure/storage-blob, either through the SAS Azure ML hands out for code or onto a datastore
 * under LocalUpload/<hash>/, as the Azure ML CLI does.
 */
import { createHash, type Hash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { TokenCredential } from '@azure/core-auth';
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
  /**
   * The Azure ML SDK's content hash (get_content_hash, hash version 202208): sha256 over the file
   * count, each '#path#' and size, then every file's bytes, files ordered by lower-cased path.
   * Computed when first read.
   */
  readonly hash: string;
  /** Folders inside `root` that are not ignored (also empty ones), relative, for objectHash. */
  dirs: string[];
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
  const dirs: string[] = [];
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
      if (
        scoped.some((r) => {
          const local = path.relative(r.at, abs).split(path.sep).join('/');
          return r.ig.ignores(isDir ? `${local}/` : local);
        })
      )
        continue;
      if (link instanceof UserError) throw link;
      if (isDir) {
        dirs.push(rel);
        walk(abs, scoped);
      } else if (entry.isFile() || target !== undefined) files.push({ rel, abs, size: fs.statSync(abs).size });
    }
  };
  if (stat.isDirectory()) walk(root, []);
  else files.push({ rel: path.basename(root), abs: root, size: stat.size });

  files.sort((a, b) => (a.rel.toLowerCase() < b.rel.toLowerCase() ? -1 : a.rel.toLowerCase() > b.rel.toLowerCase() ? 1 : 0));
  // Read on first use: code needs the content hash, local data only the object hash, and each is a
  // full pass over the files.
  let hash: string | undefined;
  return {
    root,
    files,
    dirs,
    bytes: files.reduce((s, f) => s + f.size, 0),
    get hash() {
      return (hash ??= contentHash(files));
    },
  };
}

function contentHash(files: readonly CodeFile[]): string {
  const h = createHash('sha256');
  h.update(String(files.length));
  for (const f of files) h.update(`#${f.rel}#${f.size}`);
  const chunk = Buffer.allocUnsafe(HASH_CHUNK);
  for (const f of files) hashFile(f.abs, h, chunk);
  return h.digest('hex');
}

/** Object hashes already computed: a build context's upload path and environment version both need it. */
const objectHashes = new WeakMap<CodeSnapshot, string>();

/**
 * The SDK's object hash (get_object_hash in azure/ai/ml/_utils/_asset_utils.py), which names
 * local data and build contexts under LocalUpload/<hash>/ and versions a build environment: md5
 * seeded with a fixed text; a file adds its bytes; a folder adds, entry by entry in the order of
 * their lower-cased paths, each name and then the entry's own hash input. Same content, same
 * folder as `az ml job create` uploads to, so a re-run (by either) uploads nothing.
 */
export function objectHash(snap: CodeSnapshot): string {
  let known = objectHashes.get(snap);
  if (known === undefined) objectHashes.set(snap, (known = computeObjectHash(snap)));
  return known;
}

function computeObjectHash(snap: CodeSnapshot): string {
  const h = createHash('md5').update('Initialize for october 2021 AML CLI version');
  const chunk = Buffer.allocUnsafe(HASH_CHUNK);
  if (snap.files.length === 1 && snap.files[0]!.abs === snap.root) {
    hashFile(snap.root, h, chunk);
    return h.digest('hex');
  }
  const children = new Map<string, Array<{ name: string; file?: CodeFile }>>();
  const add = (rel: string, file?: CodeFile) => {
    const i = rel.lastIndexOf('/');
    const parent = i < 0 ? '' : rel.slice(0, i);
    const list = children.get(parent) ?? [];
    list.push({ name: rel.slice(i + 1), ...(file ? { file } : {}) });
    children.set(parent, list);
  };
  for (const d of snap.dirs) add(d);
  for (const f of snap.files) add(f.rel, f);
  const visit = (dir: string) => {
    const list = (children.get(dir) ?? []).sort((a, b) =>
      a.name.toLowerCase() < b.name.toLowerCase() ? -1 : a.name.toLowerCase() > b.name.toLowerCase() ? 1 : 0,
    );
    for (const e of list) {
      h.update(e.name);
      if (e.file) hashFile(e.file.abs, h, chunk);
      else visit(dir ? `${dir}/${e.name}` : e.name);
    }
  };
  visit('');
  return h.digest('hex');
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

/** The hash version the SDK writes next to `hash_sha256` on a code version. */
export const CONTENT_HASH_VERSION = '202208';

/** Feeds a file's content into `h`, read in chunks into `buf` (any size, constant memory). */
export function hashFile(file: string, h: Hash, buf: Buffer): void {
  const fd = fs.openSync(file, 'r');
  try {
    for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0;) h.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
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
export async function uploadSnapshot(
  snap: CodeSnapshot,
  blobUri: string,
  sasUri: string,
  onProgress: UploadProgress,
  signal?: AbortSignal,
  proxy?: ProxySettings,
): Promise<string> {
  const { AnonymousCredential, ContainerClient } = await import('@azure/storage-blob');
  // Bounded tries with a per-try timeout, through the agent's proxy when it has one.
  const container = new ContainerClient(sasUri, new AnonymousCredential(), {
    retryOptions: { maxTries: 5, tryTimeoutInMs: 120_000 },
    ...(proxy ? { proxyOptions: proxy } : {}),
  });
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
    await container.getBlockBlobClient(prefix + f.rel).uploadFile(f.abs, signal ? { abortSignal: signal } : {});
    doneBytes += f.size;
    doneFiles++;
    onProgress(doneBytes, snap.bytes, doneFiles, snap.files.length);
  });
  return `${blobUri.replace(/\/+$/, '')}/${encodeURIComponent(folder)}`;
}

/** Where local data goes: a container of the workspace's datastore, and how to write to it. */
export interface DatastoreTarget {
  /** The datastore's name, for the azureml://datastores/<name>/paths/... URI. */
  datastore: string;
  /** https://<account>.blob.<storage suffix>/<container> */
  containerUrl: string;
  credential:
    { kind: 'sas'; token: string } | { kind: 'key'; account: string; key: string } | { kind: 'token'; credential: TokenCredential };
}

/** The folder a snapshot goes to on a datastore, as the CLI names it: LocalUpload/<hash>/<folder or file name>. */
export function localUploadPath(snap: CodeSnapshot): string {
  return `LocalUpload/${objectHash(snap)}/${path.basename(snap.root)}`;
}

/** The metadata the CLI sets once every file of an upload is there (UPLOAD_CONFIRMATION). */
const UPLOAD_CONFIRMATION = { upload_status: 'completed' };

async function containerFor(target: DatastoreTarget, proxy?: ProxySettings) {
  const { AnonymousCredential, ContainerClient, StorageSharedKeyCredential } = await import('@azure/storage-blob');
  const options = { retryOptions: { maxTries: 5, tryTimeoutInMs: 120_000 }, ...(proxy ? { proxyOptions: proxy } : {}) };
  const c = target.credential;
  if (c.kind === 'sas')
    return new ContainerClient(`${target.containerUrl}?${c.token.replace(/^\?/, '')}`, new AnonymousCredential(), options);
  if (c.kind === 'key') return new ContainerClient(target.containerUrl, new StorageSharedKeyCredential(c.account, c.key), options);
  return new ContainerClient(target.containerUrl, c.credential, options);
}

/**
 * Uploads a snapshot to LocalUpload/<hash>/<name> on a datastore unless a completed upload of the
 * same content is already there (the indicator blob carries upload_status=completed, set last).
 * Returns the folder (or file) path inside the datastore and the bytes sent (0 when reused).
 */
export async function uploadToDatastore(
  snap: CodeSnapshot,
  target: DatastoreTarget,
  onProgress: UploadProgress,
  signal?: AbortSignal,
  proxy?: ProxySettings,
): Promise<{ path: string; uploadedBytes: number }> {
  const container = await containerFor(target, proxy);
  const single = snap.files.length === 1 && snap.files[0]!.abs === snap.root;
  const dest = localUploadPath(snap);
  const blobOf = (f: CodeFile): string => (single ? dest : `${dest}/${f.rel}`);
  const indicator = container.getBlobClient(blobOf(snap.files[0]!));
  const props = await indicator.getProperties(signal ? { abortSignal: signal } : {}).catch((e: { statusCode?: number }) => {
    if (e.statusCode === 404) return undefined;
    throw e;
  });
  if (props?.metadata?.upload_status === UPLOAD_CONFIRMATION.upload_status) return { path: dest, uploadedBytes: 0 };
  let doneBytes = 0;
  let doneFiles = 0;
  await forEachLimit(snap.files, 8, async (f) => {
    await container.getBlockBlobClient(blobOf(f)).uploadFile(f.abs, signal ? { abortSignal: signal } : {});
    doneBytes += f.size;
    doneFiles++;
    onProgress(doneBytes, snap.bytes, doneFiles, snap.files.length);
  });
  await indicator.setMetadata(UPLOAD_CONFIRMATION, signal ? { abortSignal: signal } : {});
  return { path: dest, uploadedBytes: snap.bytes };
}
