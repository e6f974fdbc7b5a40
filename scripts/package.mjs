#!/usr/bin/env node
/**
 * Package the built extension into dist/<id>-<version>.vsix with tfx-cli, then verify the vsix.
 * Run `npm run build` (scripts/build.mjs) first; `npm run package` does both.
 *
 * Usage: node scripts/package.mjs [--release | --overrides <file>] [--publisher <id>]
 *   (default)            overrides/dev.json (publisher contoso-dev)
 *   --release            overrides/release.json (its publisher is a placeholder: also give --publisher)
 *   --overrides <file>   any tfx overrides file
 *   --publisher <id>     publish under your own Marketplace publisher; env PUBLISHER does the same.
 *                        Written with the chosen overrides into a temporary overrides file.
 *
 * The publisher is deliberately not in vss-extension.json, so nobody has to edit the manifest to
 * publish under their own publisher. Upload the vsix with
 *   npx tfx extension publish --vsix dist/<file>.vsix --token <PAT>   (or the Marketplace web page).
 *
 * Why a staging folder rather than `tfx extension create --root .`:
 *   tfx-cli 0.23 validates each task contribution by reading `<root>/<properties.name>/task.json`
 *   and checking that its execution targets exist there. With --root . that is the *source*
 *   folder tasks/<T>, which holds index.ts, not index.js, so tfx warns that index.js does not exist
 *   ("in the future, this warning will be treated as an error"). So this script copies exactly
 *   what the manifest ships into dist/.vsix-root, laid out as in the vsix (every `files` entry at its
 *   packagePath), and runs tfx there: tfx then validates the built task.json and index.js that
 *   users get, and nothing outside the manifest's files can slip in.
 *
 * Checks on the vsix (a zip, read with jszip):
 *   every task contribution has <name>/task.json, tasks/<T>/task.json plus the common messages, and every
 *   execution target it names; no node_modules/ and no source maps; size at most 2 MiB (issue 18);
 *   the publisher in extension.vsixmanifest is the one asked for.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import JSZip from 'jszip';
import {
  jsonText,
  manifestLinks,
  PLACEHOLDER_REPOSITORY,
  projectRepository,
  projectVersion,
  readCommonMessages,
  shippedTaskJson,
  strayVersion,
} from './task-json.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist');
const MAX_BYTES = 2 * 1024 * 1024;
const PLACEHOLDER_PUBLISHER = 'your-publisher-id';
const tfxCli = path.join(root, 'node_modules', 'tfx-cli', '_build', 'tfx-cli.js');

function fail(message) {
  console.error(`package: ${message}`);
  process.exit(1);
}
const rel = (p) => path.relative(root, p) || '.';
const readJson = (file, what) => {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    return fail(`cannot read ${what} ${rel(file)}: ${e.message}`);
  }
};

// ---------- arguments ----------
const argv = process.argv.slice(2);
let overridesFile = path.join(root, 'overrides', 'dev.json');
let publisher = process.env.PUBLISHER?.trim() || undefined;
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  const value = () => {
    const v = argv[++i];
    if (!v || v.startsWith('--')) fail(`${a} needs a value`);
    return v;
  };
  if (a === '--release') overridesFile = path.join(root, 'overrides', 'release.json');
  else if (a === '--overrides' || a === '--overrides-file') overridesFile = path.resolve(value());
  else if (a === '--publisher') publisher = value().trim();
  else fail(`unknown argument '${a}'. Usage: node scripts/package.mjs [--release | --overrides <file>] [--publisher <id>]`);
}

// ---------- manifest, overrides, publisher ----------
const manifestPath = path.join(root, 'vss-extension.json');
const manifest = readJson(manifestPath, 'the extension manifest');
if (manifest.publisher) fail('vss-extension.json must not set "publisher"; it comes from overrides/*.json or --publisher.');
const overrides = readJson(overridesFile, 'the overrides file');
if (publisher !== undefined) {
  // Marketplace publisher ids: letters, digits, '-' and '_', starting with a letter or digit.
  if (!/^[A-Za-z0-9][A-Za-z0-9_-]{0,254}$/.test(publisher)) {
    fail(
      `publisher '${publisher}' is not a valid Marketplace publisher id (letters, digits, '-' and '_'). Use the id from https://marketplace.visualstudio.com/manage, not the display name.`,
    );
  }
  overrides.publisher = publisher;
}
if (!overrides.publisher) fail(`no publisher: ${rel(overridesFile)} has none. Pass --publisher <id> or set PUBLISHER.`);
if (overrides.publisher === PLACEHOLDER_PUBLISHER) {
  fail(
    `${rel(overridesFile)} has the placeholder publisher '${PLACEHOLDER_PUBLISHER}'. Pass --publisher <your-publisher-id> or set PUBLISHER, or edit the file.`,
  );
}
const id = overrides.id ?? manifest.id;
// One version for the extension and its tasks: package.json's (scripts/task-json.mjs).
for (const stray of [strayVersion(manifest, 'vss-extension.json'), strayVersion(overrides, rel(overridesFile))]) if (stray) fail(stray);
let projectVersionValue;
let repository;
try {
  projectVersionValue = projectVersion(root);
  repository = projectRepository(root);
} catch (e) {
  fail(e.message);
}
if (manifest.links || manifest.repository)
  fail('vss-extension.json sets "links" or "repository"; remove them: they come from package.json "repository"');
if (overridesFile.endsWith(`${path.sep}release.json`) && repository === PLACEHOLDER_REPOSITORY) {
  fail(
    `package.json "repository" is still the placeholder ${PLACEHOLDER_REPOSITORY}: set it to your repository's https URL, which the Marketplace page and every task's help link point to.`,
  );
}
const version = projectVersionValue.text;
overrides.version = version;
const vsixPath = path.join(dist, `${id}-${version}.vsix`);

// ---------- stage exactly what the manifest ships ----------
const stage = path.join(dist, '.vsix-root');
fs.rmSync(stage, { recursive: true, force: true });
fs.mkdirSync(stage, { recursive: true });

function stageCopy(source, target, what) {
  const src = path.resolve(root, source);
  const dst = path.resolve(stage, target);
  if (!src.startsWith(root + path.sep) || !dst.startsWith(stage + path.sep))
    fail(`${what}: '${source}' -> '${target}' leaves the repository`);
  if (!fs.existsSync(src)) {
    const hint = src.startsWith(path.join(dist, 'tasks')) ? ' Run `npm run build` first (or use `npm run package`, which builds).' : '';
    fail(`${what}: ${rel(src)} does not exist.${hint}`);
  }
  fs.mkdirSync(path.dirname(dst), { recursive: true });
  fs.cpSync(src, dst, { recursive: true });
}

const staged = { ...structuredClone(manifest), ...manifestLinks(repository) };
for (const [i, f] of (staged.files ?? []).entries()) {
  const target = f.packagePath ?? f.partName ?? f.path;
  if (typeof target !== 'string') fail(`files[${i}]: only a single packagePath is supported by this script`);
  stageCopy(f.path, target, `files[${i}]`);
  f.path = target;
  delete f.packagePath;
  delete f.partName;
}
for (const [kind, p] of Object.entries(staged.icons ?? {})) if (!fs.existsSync(path.join(stage, p))) stageCopy(p, p, `icons.${kind}`);
for (const [kind, c] of Object.entries(staged.content ?? {}))
  if (c?.path && !fs.existsSync(path.join(stage, c.path))) stageCopy(c.path, c.path, `content.${kind}`);
for (const [i, s] of (staged.screenshots ?? []).entries())
  if (!fs.existsSync(path.join(stage, s.path))) stageCopy(s.path, s.path, `screenshots[${i}]`);
fs.writeFileSync(path.join(stage, 'vss-extension.json'), JSON.stringify(staged, null, 2));
const stagedOverrides = path.join(dist, '.overrides.json');
fs.writeFileSync(stagedOverrides, JSON.stringify(overrides, null, 2));

// ---------- tfx extension create ----------
if (!fs.existsSync(tfxCli)) fail(`tfx-cli is not installed (${rel(tfxCli)}). Run npm ci.`);
fs.rmSync(vsixPath, { force: true });
const args = [
  tfxCli,
  'extension',
  'create',
  '--root',
  stage,
  '--manifest-globs',
  'vss-extension.json',
  '--overrides-file',
  stagedOverrides,
  '--output-path',
  vsixPath,
  '--no-prompt',
  '--no-color',
];
console.log(`tfx extension create (publisher ${overrides.publisher}, overrides ${rel(overridesFile)})`);
const tfx = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8' });
const tfxOut = `${tfx.stdout ?? ''}${tfx.stderr ?? ''}`
  .split('\n')
  .filter((l) => l.trim() && !/^(TFS Cross Platform Command Line Interface|Copyright Microsoft Corporation)/.test(l))
  .join('\n');
if (tfx.status !== 0 || !fs.existsSync(vsixPath)) {
  fail(`tfx extension create failed (exit ${tfx.status ?? tfx.signal}):\n${tfxOut}`);
}
const tfxWarnings = tfxOut.split('\n').filter((l) => /^warning:/i.test(l));
if (tfxWarnings.length) console.warn(tfxWarnings.join('\n'));
fs.rmSync(stage, { recursive: true, force: true });
fs.rmSync(stagedOverrides, { force: true });

// ---------- read the vsix (a zip) with jszip ----------
async function readZip(file) {
  const buf = fs.readFileSync(file);
  let zip;
  try {
    zip = await JSZip.loadAsync(buf);
  } catch (e) {
    return fail(`${rel(file)} is not a readable zip file: ${e.message}`);
  }
  const entries = new Map();
  for (const f of Object.values(zip.files)) {
    if (f.dir) continue;
    const content = await f.async('nodebuffer');
    entries.set(f.name, { name: f.name, size: content.length, read: async () => content });
  }
  return { size: buf.length, entries };
}

// ---------- verify ----------
const zip = await readZip(vsixPath);
const names = [...zip.entries.keys()];
const problems = [];
const tasks = (manifest.contributions ?? []).filter((c) => c.type === 'ms.vss-distributed-task.task');
if (tasks.length === 0) problems.push('the manifest has no ms.vss-distributed-task.task contributions');
const taskRows = [];
const commonMessages = readCommonMessages(root);
for (const c of tasks) {
  const dir = String(c.properties?.name ?? '')
    .replace(/\\/g, '/')
    .replace(/\/+$/, '');
  const entry = zip.entries.get(`${dir}/task.json`);
  if (!entry) {
    problems.push(`${dir}/task.json is missing`);
    continue;
  }
  const shipped = await entry.read();
  let taskJson;
  try {
    taskJson = JSON.parse(shipped.toString('utf8').replace(/^\uFEFF/, ''));
  } catch (e) {
    problems.push(`${dir}/task.json is not valid JSON: ${e.message}`);
    continue;
  }
  // The build ships task.json with the shared core's messages merged in (scripts/task-json.mjs).
  const source = path.join(root, 'tasks', path.basename(dir), 'task.json');
  if (
    fs.existsSync(source) &&
    jsonText(shippedTaskJson(JSON.parse(fs.readFileSync(source, 'utf8')), commonMessages, projectVersionValue.task, repository).json) !==
      shipped.toString('utf8')
  ) {
    problems.push(`${dir}/task.json in the vsix differs from the source ${rel(source)}: the build is stale, run npm run build`);
  }
  const targets = new Set();
  for (const section of ['prejobexecution', 'execution', 'postjobexecution']) {
    for (const def of Object.values(taskJson[section] ?? {}))
      targets.add(String(def?.target ?? '').replace(/\$\(\s*currentdirectory\s*\)[\\/]?/i, ''));
  }
  if (!targets.has('index.js')) problems.push(`${dir}/task.json does not run index.js`);
  for (const t of targets) if (!zip.entries.has(`${dir}/${t}`)) problems.push(`${dir}/${t} (an execution target) is missing`);
  const inTask = names.filter((n) => n.startsWith(`${dir}/`));
  taskRows.push({
    dir,
    files: inTask.length,
    size: inTask.reduce((s, n) => s + zip.entries.get(n).size, 0),
  });
}
const nodeModules = names.filter((n) => /(^|\/)node_modules\//.test(n));
if (nodeModules.length) problems.push(`it contains node_modules (${nodeModules.length} files, for example ${nodeModules[0]})`);
const maps = names.filter((n) => n.endsWith('.map'));
if (maps.length) problems.push(`it contains source maps (${maps.join(', ')}); rebuild without --sourcemap`);
const sources = names.filter((n) => /\.ts$/.test(n) && !n.endsWith('.d.ts'));
if (sources.length) problems.push(`it contains TypeScript sources (${sources.slice(0, 3).join(', ')})`);
const vsixManifest = (await zip.entries.get('extension.vsixmanifest')?.read())?.toString('utf8') ?? '';
const shippedPublisher = /<Identity\b[^>]*\bPublisher="([^"]*)"/.exec(vsixManifest)?.[1];
if (shippedPublisher !== overrides.publisher)
  problems.push(`extension.vsixmanifest has publisher '${shippedPublisher}', expected '${overrides.publisher}'`);
if (zip.size > MAX_BYTES)
  problems.push(`it is ${zip.size} bytes, over the 2 MiB budget (${MAX_BYTES} bytes): npm run bench breaks the tasks down by package`);

const mib = (n) => `${(n / 1048576).toFixed(2)} MiB`;
for (const r of taskRows) console.log(`  ${r.dir.padEnd(28)} ${String(r.files).padStart(3)} files  ${mib(r.size).padStart(10)}`);
if (problems.length) {
  // Do not leave a package behind that someone could publish by mistake.
  fs.rmSync(vsixPath, { force: true });
  fail(`${rel(vsixPath)} failed verification and was deleted:\n  - ${problems.join('\n  - ')}`);
}
console.log(
  `${rel(vsixPath)}: ${mib(zip.size)} (${zip.size} bytes), ${names.length} entries, publisher ${shippedPublisher}, ${tasks.length} tasks; verified.`,
);
