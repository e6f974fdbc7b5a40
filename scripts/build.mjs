#!/usr/bin/env node
/**
 * Build every task into one self-contained file next to its task.json:
 *
 *   tasks/<T>/index.ts + task.json + icon.png [+ Strings/]  ->  dist/tasks/<T>/{index.js, azure.js, task.json,
 *                                                             task.loc.json, icon.png, Strings/}
 *
 * The .vsix then carries no node_modules (vss-extension.json points at dist/tasks/<T>).
 *
 * Usage: node scripts/build.mjs [--task <Name>]... [--sourcemap] [--no-minify] [--no-smoke] [--metafile]
 *   --task       build only these tasks (repeatable)
 *   --sourcemap  also write linked index.js.map files (local debugging only: run with
 *                `node --enable-source-maps`; package.mjs refuses a vsix that contains maps)
 *   --no-minify  readable output
 *   --no-smoke   skip the start-up check (each built task run with no inputs must fail cleanly)
 *   --metafile   write dist/meta-<T>.json for https://esbuild.github.io/analyze/
 *   --quiet      no report on stdout (warnings and errors still go to stderr)
 *
 * Without --task it also bundles the jump-host command, cli/ -> dist/cli/ (the npm bin).
 *
 * Bundling traps handled here (azure-pipelines-task-lib 5.x and the Azure SDK):
 * - task-lib's own messages: v5 embeds lib.json and every Strings/<culture>/resources.resjson in
 *   lib-resource.js (a plain require, so it is bundled). Nothing in task-lib reads lib.json or its
 *   Strings/ folder at run time (internal.js only reads the *task's* resource file), so they are not
 *   copied. (lib-resource.js has no zh-TW block; that culture falls back to English, as unbundled.)
 * - The task's own messages: `_loadLocStrings` does `require(resourceFile)` with a run-time path
 *   (dist/tasks/<T>/task.json, from tl.setResourcePath(path.join(__dirname, 'task.json'))).
 *   esbuild leaves a require() with a non-literal argument alone, so Node's require loads the
 *   shipped task.json at run time; the smoke check below proves it (no "Can't find loc string").
 *   The shipped task.json adds the shared core's messages, and task.loc.json plus
 *   Strings/resources.resjson/en-US are generated from it (see localisation()).
 * - __dirname: with format cjs it is the bundle's folder, which is what the entry points want.
 *   azure-devops-node-api's WebApi reads `__dirname/package.json` for its user agent, guarded by
 *   existsSync, so it reports version "unknown"; harmless.
 * - import.meta.url: `open` (pulled in by @azure/identity for interactive sign-in, never used by
 *   the tasks, and loaded lazily) computes its folder from import.meta.url at module init, which
 *   is empty in a cjs bundle and would throw. It is defined as the bundle's own file URL.
 * - @azure/arm-machinelearning: only the operation groups the tasks call through the SDK, and the
 *   mappers they reach, are bundled (scripts/arm-ml-bundle.mjs; a left-out group throws when used).
 * - A duplicated task-lib (two copies resolved from different paths) would split its global state
 *   (resource strings, secrets, result): the build fails if the metafile shows that.
 * - Module format: mainFields module,main picks the ESM builds of the Azure SDK (smaller, and
 *   faster to start than the CommonJS builds; both measured). Packages whose ESM build keeps
 *   state in a CommonJS file (core-client, core-tracing state.js) share it as designed.
 * - Source maps are off: Node ignores them unless started with --enable-source-maps, which the
 *   agent does not do (and it costs ~190 ms of start-up when on), and four ~5 MB maps would
 *   break the 2 MiB vsix budget. keepNames keeps function and class names in stack traces.
 */
import * as esbuild from 'esbuild';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { armMlBundle, BASE_ML_OPERATIONS } from './arm-ml-bundle.mjs';
import { jsonText, projectRepository, projectVersion, readCommonMessages, shippedTaskJson, strayVersion } from './task-json.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const tasksDir = path.join(root, 'tasks');
const distTasks = path.join(root, 'dist', 'tasks');

// ---------- arguments ----------
const argv = process.argv.slice(2);
const opts = { tasks: [], sourcemap: false, minify: true, smoke: true, metafile: false };
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a === '--task') opts.tasks.push(argv[++i]);
  else if (a === '--sourcemap') opts.sourcemap = true;
  else if (a === '--no-minify') opts.minify = false;
  else if (a === '--no-smoke') opts.smoke = false;
  else if (a === '--metafile') opts.metafile = true;
  else if (a === '--quiet')
    console.log = () => {}; // npm pack --json (prepack) must print only its JSON
  else
    fail(
      `unknown argument '${a}'. Usage: node scripts/build.mjs [--task <Name>]... [--sourcemap] [--no-minify] [--no-smoke] [--metafile] [--quiet]`,
    );
}

function fail(message) {
  console.error(`build: ${message}`);
  process.exit(1);
}

const kib = (n) => `${(n / 1024).toFixed(0)} KiB`;

// ---------- discover tasks ----------
function discoverTasks() {
  const all = fs
    .readdirSync(tasksDir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && fs.existsSync(path.join(tasksDir, d.name, 'task.json')))
    .map((d) => d.name)
    .sort();
  if (all.length === 0) fail(`no task folders with a task.json under ${tasksDir}`);
  const chosen = opts.tasks.length ? opts.tasks : all;
  for (const t of chosen) if (!all.includes(t)) fail(`--task ${t}: no tasks/${t}/task.json`);
  return chosen.map((name) => {
    const dir = path.join(tasksDir, name);
    const taskJson = JSON.parse(fs.readFileSync(path.join(dir, 'task.json'), 'utf8'));
    if (taskJson.name !== name) fail(`tasks/${name}/task.json: "name" is '${taskJson.name}', expected the folder name '${name}'`);
    const stray = strayVersion(taskJson, `tasks/${name}/task.json`);
    if (stray) fail(stray);
    const entry = ['index.ts', 'index.js'].map((f) => path.join(dir, f)).find((f) => fs.existsSync(f));
    if (!entry) fail(`tasks/${name}: no index.ts entry point`);
    return { name, dir, entry, taskJson, out: path.join(distTasks, name) };
  });
}

// ---------- bundle ----------
/** Package roots (".../node_modules/<name>") of every bundled input, by package name. */
function packageRoots(metafile) {
  const roots = new Map();
  for (const input of Object.keys(metafile.inputs)) {
    const m = /^(.*node_modules\/((?:@[^/]+\/)?[^/]+))\//.exec(input.replace(/\\/g, '/'));
    if (!m) continue;
    const [, pkgRoot, name] = m;
    if (!roots.has(name)) roots.set(name, new Set());
    roots.get(name).add(pkgRoot);
  }
  return roots;
}

/**
 * Two bundles per task. index.js holds task-lib and the input checks, so a task with a bad
 * input fails in about the time node takes to start. azure.js (from tasks/<T>/azure.ts, when
 * present) holds the Azure SDKs and is required by index.js only once the inputs are valid.
 * azure.js must not contain task-lib: the core reaches the agent only through AgentIo.
 */
const lazyAzure = {
  name: 'lazy-azure',
  setup(b) {
    b.onResolve({ filter: /^\.\/azure$/ }, (a) => (a.kind === 'dynamic-import' ? { path: './azure.js', external: true } : undefined));
  },
};

/**
 * azure-devops-node-api's WebApi requires every Azure DevOps client when it loads (about 1 MB
 * minified per task), while the tasks use three: Git (the gate), Task (the OIDC token) and
 * Locations (resource areas, which WebApi reads before it builds a client). The others are
 * replaced by a stub whose constructor says it is not bundled, so a new use fails loudly in the
 * tests instead of shipping half a client. WebApi itself stays: its proxy, certificate and
 * resource-area handling are the package's, not ours.
 */
export const USED_DEVOPS_CLIENTS = new Set(['GitApi', 'TaskApi', 'LocationsApi']);
const devopsClients = {
  name: 'devops-clients',
  setup(b) {
    b.onResolve({ filter: /^\.\/[A-Za-z]+Api$/ }, (a) => {
      if (!/azure-devops-node-api[\\/]WebApi\.js$/.test(a.importer)) return undefined;
      const name = a.path.slice(2);
      return USED_DEVOPS_CLIENTS.has(name) ? undefined : { path: name, namespace: 'unused-devops-client' };
    });
    b.onLoad({ filter: /.*/, namespace: 'unused-devops-client' }, (a) => ({
      contents: `exports.${a.path} = class ${a.path} { constructor() { throw new Error('azure-devops-node-api ${a.path} is not bundled: add it to USED_DEVOPS_CLIENTS in scripts/build.mjs'); } };`,
      loader: 'js',
    }));
  },
};

/**
 * On the agent every message comes from the shipped task.json (common messages merged in) through
 * tl.loc, which AgentIo installs before the first msg() (tasks/common/loc.ts). The English
 * catalogues that messages.ts imports are only the fallback off the agent (unit tests, the CLI),
 * so the task bundles carry empty ones: about 50 KiB less in each of index.js and azure.js.
 * A message used before the localizer is installed would show its key, and the smoke check and
 * agent tests would see it.
 */
const agentMessages = {
  name: 'agent-messages',
  setup(b) {
    b.onResolve({ filter: /^(?:\.\/|\.\.\/common\/)(messages|task)\.json$/ }, (a) =>
      /[\\/]tasks[\\/][^\\/]+[\\/]messages\.ts$/.test(a.importer) ? { path: a.path, namespace: 'agent-messages' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'agent-messages' }, (a) => ({
      contents: a.path.endsWith('task.json') ? '{"messages":{}}' : '{}',
      loader: 'json',
    }));
  },
};

/**
 * The @azure/arm-machinelearning operation groups each task calls through the SDK besides
 * BASE_ML_OPERATIONS (scripts/arm-ml-bundle.mjs); a group not listed throws "not bundled" when used.
 */
const ML_OPERATIONS = { AmlPipelineJob: ['jobs'] }; // jobs.beginCancelAndWait (cancelJob)

/** esbuild options shared by the task and CLI bundles (see the header for why each). */
function esbuildOptions() {
  return {
    absWorkingDir: root,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    // import() of azure.js becomes a plain require: one file, loaded on demand.
    supported: { 'dynamic-import': false },
    mainFields: ['module', 'main'],
    minify: opts.minify,
    keepNames: true,
    sourcemap: opts.sourcemap ? 'linked' : false,
    // Licence notices go to ThirdPartyNotices.txt (below), not into the bundle.
    legalComments: 'none',
    charset: 'utf8',
    metafile: true,
    logLevel: 'silent',
    // See the header: `open` reads import.meta.url at module init.
    define: { 'import.meta.url': '__bundleFileUrl' },
    banner: { js: 'var __bundleFileUrl = require("url").pathToFileURL(__filename).href;' },
  };
}

async function bundle(task) {
  fs.rmSync(task.out, { recursive: true, force: true });
  fs.mkdirSync(task.out, { recursive: true });
  const common = esbuildOptions();
  const index = await esbuild.build({
    ...common,
    entryPoints: [task.entry],
    outfile: path.join(task.out, 'index.js'),
    plugins: [lazyAzure, agentMessages],
  });
  const azureEntry = path.join(task.dir, 'azure.ts');
  const azure = fs.existsSync(azureEntry)
    ? await esbuild.build({
        ...common,
        entryPoints: [azureEntry],
        outfile: path.join(task.out, 'azure.js'),
        plugins: [devopsClients, armMlBundle([...BASE_ML_OPERATIONS, ...(ML_OPERATIONS[task.name] ?? [])]), agentMessages],
      })
    : undefined;
  const metafile = {
    inputs: { ...index.metafile.inputs, ...(azure?.metafile.inputs ?? {}) },
    outputs: { ...index.metafile.outputs, ...(azure?.metafile.outputs ?? {}) },
  };
  if (opts.metafile) fs.writeFileSync(path.join(root, 'dist', `meta-${task.name}.json`), JSON.stringify(metafile));
  return { warnings: [...index.warnings, ...(azure?.warnings ?? [])], metafile, index: index.metafile, azure: azure?.metafile };
}

/** task-lib only in index.js, the Azure SDKs only in azure.js. */
function checkSplit(task, result) {
  const problems = [];
  const inIndex = packageRoots(result.index);
  for (const name of inIndex.keys()) {
    if (/^@azure\/|^azure-devops-node-api$/.test(name))
      problems.push(`index.js bundles ${name}: import it from azure.ts only, so bad inputs fail before the Azure SDKs load`);
  }
  if (result.azure && packageRoots(result.azure).has('azure-pipelines-task-lib')) {
    problems.push(
      'azure.js bundles azure-pipelines-task-lib: a second copy would split its state. Reach the agent through AgentIo (type-only import).',
    );
  }
  return problems;
}

// ---------- copy, localise and verify ----------
const commonMessages = readCommonMessages(root);
const version = projectVersion(root);
const repository = projectRepository(root);

/** The shipped task.json (scripts/task-json.mjs): package.json's version stamped in; a message key in both catalogues is a build error. */
function shippedTask(task) {
  const { json, clash } = shippedTaskJson(task.taskJson, commonMessages, version.task, repository);
  if (clash.length)
    fail(`tasks/${task.name}/task.json: messages ${clash.join(', ')} are already in tasks/common/messages.json; remove them from the task`);
  return json;
}

/**
 * Localisation files, generated from the shipped task.json so they never drift, in the layout of
 * microsoft/azure-pipelines-tasks: Strings/resources.resjson/en-US/resources.resjson holds
 * loc.friendlyName, loc.helpMarkDown, loc.description, loc.instanceNameFormat, loc.releaseNotes,
 * loc.group.displayName.<group>, loc.input.label.<input>, loc.input.help.<input> and
 * loc.messages.<key>; task.loc.json is task.json with those strings replaced by
 * "ms-resource:<key>". task-lib reads loc.messages.* from Strings/resources.resjson/<System.Culture>.
 */
function localisation(taskJson) {
  const res = {};
  const loc = structuredClone(taskJson);
  const put = (key, value, set) => {
    if (value === undefined || value === '') return;
    res[key] = value;
    set(`ms-resource:${key}`);
  };
  for (const f of ['friendlyName', 'helpMarkDown', 'description', 'instanceNameFormat', 'releaseNotes'])
    put(`loc.${f}`, taskJson[f], (v) => (loc[f] = v));
  for (const [i, g] of (taskJson.groups ?? []).entries())
    put(`loc.group.displayName.${g.name}`, g.displayName, (v) => (loc.groups[i].displayName = v));
  for (const [i, input] of (taskJson.inputs ?? []).entries()) {
    put(`loc.input.label.${input.name}`, input.label, (v) => (loc.inputs[i].label = v));
    put(`loc.input.help.${input.name}`, input.helpMarkDown, (v) => (loc.inputs[i].helpMarkDown = v));
  }
  for (const [k, v] of Object.entries(taskJson.messages ?? {})) put(`loc.messages.${k}`, v, (r) => (loc.messages[k] = r));
  return { resjson: res, taskLoc: loc };
}

function copyAssets(task) {
  const shipped = shippedTask(task);
  fs.writeFileSync(path.join(task.out, 'task.json'), jsonText(shipped));
  const icon = path.join(task.dir, 'icon.png');
  if (!fs.existsSync(icon)) fail(`tasks/${task.name}/icon.png is missing (render it with scripts/icons/render.sh)`);
  fs.copyFileSync(icon, path.join(task.out, 'icon.png'));
  // Translations a task may carry (Strings/resources.resjson/<culture>/); en-US is generated.
  const strings = path.join(task.dir, 'Strings');
  if (fs.existsSync(strings)) fs.cpSync(strings, path.join(task.out, 'Strings'), { recursive: true });
  const { resjson, taskLoc } = localisation(shipped);
  const enUs = path.join(task.out, 'Strings', 'resources.resjson', 'en-US');
  fs.mkdirSync(enUs, { recursive: true });
  fs.writeFileSync(path.join(enUs, 'resources.resjson'), JSON.stringify(resjson, null, 2) + '\n');
  fs.writeFileSync(path.join(task.out, 'task.loc.json'), JSON.stringify(taskLoc, null, 2) + '\n');
}

function checkTargets(task) {
  const problems = [];
  for (const section of ['prejobexecution', 'execution', 'postjobexecution']) {
    for (const [handler, def] of Object.entries(task.taskJson[section] ?? {})) {
      const target = String(def?.target ?? '').replace(/\$\(\s*currentdirectory\s*\)[\\/]?/i, '');
      if (!target) problems.push(`${section}.${handler} has no target`);
      else if (!fs.existsSync(path.join(task.out, target)))
        problems.push(`${section}.${handler}.target '${target}' is not in dist/tasks/${task.name}`);
    }
  }
  if (!task.taskJson.execution) problems.push('no "execution" section');
  return problems;
}

function checkSingleTaskLib(roots) {
  const tl = roots.get('azure-pipelines-task-lib');
  if (tl && tl.size > 1) {
    return [
      `azure-pipelines-task-lib is bundled from ${tl.size} paths (${[...tl].join(', ')}); two copies split its global state ` +
        '(resource strings, secrets, task result). Align the versions so npm dedupes them (npm ls azure-pipelines-task-lib).',
    ];
  }
  return [];
}

/**
 * ThirdPartyNotices.txt: name, version, licence and licence text of every npm package in the
 * bundle (MIT, Apache-2.0, BSD and ISC ask for the notice to travel with copies of the code).
 */
const noticeCache = new Map(); // package folder -> its notice: the tasks share most packages
function notice(name, dir) {
  if (!noticeCache.has(dir)) {
    const abs = path.join(root, dir);
    let pkg = {};
    try {
      pkg = JSON.parse(fs.readFileSync(path.join(abs, 'package.json'), 'utf8'));
    } catch {
      /* a package without package.json at its root: list it by name only */
    }
    const licenseFile = fs.readdirSync(abs).find((f) => /^(licen[cs]e|copying)(\.|$)/i.test(f));
    const text = licenseFile ? fs.readFileSync(path.join(abs, licenseFile), 'utf8').trim() : `License: ${pkg.license ?? 'see the package'}`;
    noticeCache.set(dir, `${name}@${pkg.version ?? '?'} (${pkg.license ?? 'unknown licence'})\n${'-'.repeat(70)}\n${text}\n`);
  }
  return noticeCache.get(dir);
}

function writeNotices(task, roots) {
  const entries = [];
  for (const [name, dirs] of [...roots].sort(([a], [b]) => a.localeCompare(b))) {
    for (const dir of [...dirs].sort()) entries.push(notice(name, dir));
  }
  const header = `${task.name}: third-party software notices\n\nThe bundled .js files contain the following npm packages. Their licences follow.\n\n`;
  fs.writeFileSync(path.join(task.out, 'ThirdPartyNotices.txt'), header + entries.join('\n'));
  return entries.length;
}

// ---------- smoke check: the bundle starts, loads its strings and fails cleanly with no inputs ----------
function smoke(task) {
  return new Promise((resolve) => {
    const env = {};
    for (const [k, v] of Object.entries(process.env)) {
      if (!/^(INPUT_|ENDPOINT_|SECUREFILE_|SECRET_|VSTS_|AGENT_|SYSTEM_|BUILD_|RELEASE_|TASK_)/i.test(k)) env[k] = v;
    }
    const temp = fs.mkdtempSync(path.join(os.tmpdir(), `smoke-${task.name}-`));
    env.AGENT_TEMPDIRECTORY = temp;
    const started = Date.now();
    const child = spawn(process.execPath, [path.join(task.out, 'index.js')], { cwd: temp, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      fs.rmSync(temp, { recursive: true, force: true });
      const ms = Date.now() - started;
      const problems = [];
      if (signal) problems.push(`did not finish within 20 s (killed by ${signal})`);
      if (!/##vso\[task\.complete result=Failed;?\]/.test(out)) problems.push('did not report result=Failed for a run with no inputs');
      // task-lib reports an uncaught error as "Unhandled: <message>" plus a %0A-encoded stack.
      if (/##vso\[task\.(issue|complete)[^\]]*\]Unhandled: /.test(out)) problems.push('crashed with an unhandled error');
      if (/(^|%0A)\s+at .+:\d+:\d+\)?($|%0A)/m.test(out)) problems.push('printed a stack trace');
      if (/Can't find loc string|Resource file haven't been set|LIB_ResourceFile does not exist/.test(out))
        problems.push('could not load its task.json messages (tl.loc)');
      if (/Cannot find module|ERR_MODULE_NOT_FOUND|ERR_INVALID_ARG_TYPE/.test(out)) problems.push('failed to load a module');
      resolve({ ms, code, problems, out });
    });
  });
}

// ---------- the jump-host command (npm bin): dist/cli/aml-secure-mlops.js + azure.js ----------
async function buildCli() {
  const out = path.join(root, 'dist', 'cli');
  fs.rmSync(out, { recursive: true, force: true });
  fs.mkdirSync(out, { recursive: true });
  const base = esbuildOptions();
  const common = { ...base, define: { ...base.define, CLI_VERSION: JSON.stringify(version.text) } };
  const main = await esbuild.build({
    ...common,
    banner: { js: `#!/usr/bin/env node\n${base.banner.js}` },
    entryPoints: ['cli/aml-secure-mlops.ts'],
    outfile: path.join(out, 'aml-secure-mlops.js'),
    plugins: [lazyAzure, devopsClients, armMlBundle()],
  });
  const azure = await esbuild.build({
    ...common,
    entryPoints: ['cli/azure.ts'],
    outfile: path.join(out, 'azure.js'),
    plugins: [devopsClients, armMlBundle()],
  });
  fs.chmodSync(path.join(out, 'aml-secure-mlops.js'), 0o755);
  const problems = [];
  for (const [file, meta] of [
    ['aml-secure-mlops.js', main.metafile],
    ['azure.js', azure.metafile],
  ]) {
    const pkgs = packageRoots(meta);
    // The CLI runs outside the agent: task-lib would only add weight and agent-only behaviour.
    for (const name of ['azure-pipelines-task-lib', 'azure-devops-node-api'])
      if (pkgs.has(name)) problems.push(`cli/${file} bundles ${name}`);
  }
  if (packageRoots(main.metafile).has('@azure/identity'))
    problems.push('cli/aml-secure-mlops.js bundles @azure/identity: import it from cli/azure.ts only');
  writeNotices({ name: 'aml-secure-mlops command', out }, packageRoots({ inputs: { ...main.metafile.inputs, ...azure.metafile.inputs } }));
  return problems;
}

// ---------- main ----------
const t0 = Date.now();
const tasks = discoverTasks();
fs.mkdirSync(distTasks, { recursive: true });
if (!opts.tasks.length) {
  // Remove built folders of tasks that no longer exist.
  for (const d of fs.readdirSync(distTasks))
    if (!tasks.some((t) => t.name === d)) fs.rmSync(path.join(distTasks, d), { recursive: true, force: true });
}

const results = await Promise.all(
  tasks.map(async (task) => {
    try {
      return { task, result: await bundle(task) };
    } catch (e) {
      return { task, error: e };
    }
  }),
);

let failed = false;
// What the tasks would need in node_modules unbundled (bench/bench.ts compares the vsix with it).
const bundled = new Set();
for (const { task, result, error } of results) {
  if (error) {
    failed = true;
    const msgs = error.errors?.length
      ? await esbuild.formatMessages(error.errors, { kind: 'error', color: process.stderr.isTTY })
      : [String(error)];
    console.error(`build: ${task.name} failed to bundle:\n${msgs.join('\n')}`);
    continue;
  }
  if (result.warnings.length) {
    const msgs = await esbuild.formatMessages(result.warnings, { kind: 'warning', color: process.stderr.isTTY });
    console.warn(`build: ${task.name}: ${result.warnings.length} warning(s)\n${msgs.join('\n')}`);
  }
  copyAssets(task);
  const roots = packageRoots(result.metafile);
  for (const name of roots.keys()) bundled.add(name);
  writeNotices(task, roots);
  const problems = [...checkTargets(task), ...checkSingleTaskLib(roots), ...checkSplit(task, result)];
  for (const p of problems) console.error(`build: ${task.name}: ${p}`);
  if (problems.length) failed = true;
}
if (!opts.tasks.length) {
  try {
    const problems = await buildCli();
    for (const p of problems) console.error(`build: ${p}`);
    if (problems.length) failed = true;
  } catch (e) {
    failed = true;
    const msgs = e.errors?.length ? await esbuild.formatMessages(e.errors, { kind: 'error', color: process.stderr.isTTY }) : [String(e)];
    console.error(`build: the CLI failed to bundle:\n${msgs.join('\n')}`);
  }
}
if (failed) fail('failed');
fs.writeFileSync(path.join(root, 'dist', 'bundled-packages.json'), jsonText([...bundled].sort()));

// One at a time, so the start-up times are not inflated by each other.
const smokes = [];
if (opts.smoke) for (const task of tasks) smokes.push(await smoke(task));

console.log('task'.padEnd(22) + 'index.js'.padStart(10) + 'azure.js'.padStart(10) + (opts.smoke ? '   start-up (no inputs)' : ''));
tasks.forEach((task, i) => {
  const size = fs.statSync(path.join(task.out, 'index.js')).size;
  const azure = path.join(task.out, 'azure.js');
  let line = task.name.padEnd(22) + kib(size).padStart(10) + (fs.existsSync(azure) ? kib(fs.statSync(azure).size) : '-').padStart(10);
  if (opts.smoke) {
    const s = smokes[i];
    line += `   ${s.problems.length ? 'FAILED' : 'fails cleanly'} in ${s.ms} ms`;
  }
  console.log(line);
});
for (const [i, s] of smokes.entries()) {
  if (s.problems.length) {
    failed = true;
    console.error(
      `\nbuild: dist/tasks/${tasks[i].name}/index.js, run with no inputs, ${s.problems.join('; ')}. Its output (debug lines left out):\n${s.out
        .trim()
        .split('\n')
        .filter((l) => !l.startsWith('##vso[task.debug]'))
        .slice(-25)
        .join('\n')}`,
    );
  }
}
if (failed) fail('smoke check failed (skip it with --no-smoke while an entry point is under construction)');
console.log(`built ${tasks.length} task(s) into ${path.relative(root, distTasks)}/ in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
