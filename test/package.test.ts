/**
 * The package users install: every task.json passes the official schema, the manifest matches
 * the tasks, and every task inside the .vsix runs and fails cleanly with no inputs.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import Ajv from 'ajv-draft-04';
import JSZip from 'jszip';
import { ROOT, runTask } from '../testkit/harness';
import { TASK_SCHEMA } from '../testkit/official';

const SCHEMA = TASK_SCHEMA;
const taskNames = fs.readdirSync(path.join(ROOT, 'tasks')).filter((d) => fs.existsSync(path.join(ROOT, 'tasks', d, 'task.json')));
const readJson = (p: string) => JSON.parse(fs.readFileSync(p, 'utf8'));
const ajv = new Ajv({ strict: false, unicodeRegExp: false });
const validate = ajv.compile(readJson(SCHEMA));

test('every task.json validates against the official task schema', () => {
  assert.equal(taskNames.length, 4);
  for (const t of taskNames) {
    const ok = validate(readJson(path.join(ROOT, 'tasks', t, 'task.json')));
    assert.ok(ok, `${t}: ${ajv.errorsText(validate.errors)}`);
  }
});

test('task.json conventions: Node20_1 and Node24, agent 3.232.1, help on every input, declared outputs', () => {
  for (const t of taskNames) {
    const j = readJson(path.join(ROOT, 'tasks', t, 'task.json'));
    assert.equal(j.name, t);
    assert.deepEqual(Object.keys(j.execution).sort(), ['Node20_1', 'Node24']);
    assert.equal(j.minimumAgentVersion, '3.232.1');
    for (const i of j.inputs) assert.ok(i.helpMarkDown?.length > 20, `${t}.${i.name} needs helpMarkDown`);
    assert.ok(j.outputVariables?.length > 0, `${t} declares output variables`);
  }
});

test('every message key is used through msg() and every msg() key is declared', () => {
  const keysIn = (dir: string) =>
    new Set(
      fs
        .readdirSync(dir)
        .filter((f) => f.endsWith('.ts'))
        .flatMap((f) => [...fs.readFileSync(path.join(dir, f), 'utf8').matchAll(/\bmsg\(\s*'([A-Za-z]+)'/g)].map((m) => m[1]!)),
    );
  const check = (label: string, used: Set<string>, declared: Set<string>) => {
    assert.deepEqual(
      [...used].filter((k) => !declared.has(k)),
      [],
      `${label}: msg() keys missing from the catalogue`,
    );
    assert.deepEqual(
      [...declared].filter((k) => !used.has(k)),
      [],
      `${label}: messages never used`,
    );
  };
  const common = new Set(Object.keys(readJson(path.join(ROOT, 'tasks', 'common', 'messages.json'))));
  // A task's msg() reads its own catalogue and the shared one; a shared key is used somewhere.
  const usedByTasks = new Set<string>();
  for (const t of taskNames) {
    const own = new Set(Object.keys(readJson(path.join(ROOT, 'tasks', t, 'task.json')).messages ?? {}));
    const used = keysIn(path.join(ROOT, 'tasks', t));
    for (const k of used) if (common.has(k)) usedByTasks.add(k);
    check(`tasks/${t}/task.json`, new Set([...used].filter((k) => !common.has(k))), own);
    assert.deepEqual(
      [...own].filter((k) => common.has(k)),
      [],
      `${t}: a key is both in task.json and common/messages.json`,
    );
  }
  check('tasks/common/messages.json', new Set([...keysIn(path.join(ROOT, 'tasks', 'common')), ...usedByTasks]), common);
});

test('user-facing text goes through msg(): no string literal is thrown, logged or reported directly', () => {
  const offenders: string[] = [];
  // A string literal as the message (or as inputError's problem/fix), possibly on the next line.
  const direct = /\b(?:new UserError|io\.(?:info|warn|succeededWithIssues))\(\s*[`'"]|\b(?:inputError|progress)\([^,]+,\s*[`'"]/g;
  for (const dir of ['common', ...taskNames]) {
    for (const f of fs.readdirSync(path.join(ROOT, 'tasks', dir)).filter((x) => x.endsWith('.ts'))) {
      const text = fs.readFileSync(path.join(ROOT, 'tasks', dir, f), 'utf8');
      for (const m of text.matchAll(direct)) {
        const line = text.slice(0, m.index).split('\n').length;
        offenders.push(`tasks/${dir}/${f}:${line}: ${text.split('\n')[line - 1]!.trim().slice(0, 80)}`);
      }
    }
  }
  assert.deepEqual(offenders, []);
});

test('the build ships task.loc.json and the en-US resjson, generated from the shipped task.json', () => {
  const common = readJson(path.join(ROOT, 'tasks', 'common', 'messages.json'));
  for (const t of taskNames) {
    const dist = path.join(ROOT, 'dist', 'tasks', t);
    const src = readJson(path.join(ROOT, 'tasks', t, 'task.json'));
    const shipped = readJson(path.join(dist, 'task.json'));
    assert.deepEqual(shipped.messages, { ...common, ...src.messages }, `${t}: shipped messages = common + own`);
    const res = readJson(path.join(dist, 'Strings', 'resources.resjson', 'en-US', 'resources.resjson'));
    const loc = readJson(path.join(dist, 'task.loc.json'));
    assert.equal(res['loc.friendlyName'], src.friendlyName);
    assert.equal(loc.friendlyName, 'ms-resource:loc.friendlyName');
    assert.equal(loc.instanceNameFormat, 'ms-resource:loc.instanceNameFormat');
    for (const input of src.inputs) {
      assert.equal(res[`loc.input.label.${input.name}`], input.label, `${t}.${input.name} label`);
      assert.equal(res[`loc.input.help.${input.name}`], input.helpMarkDown, `${t}.${input.name} help`);
      const li = loc.inputs.find((x: { name: string }) => x.name === input.name);
      assert.equal(li.label, `ms-resource:loc.input.label.${input.name}`);
      assert.equal(li.helpMarkDown, `ms-resource:loc.input.help.${input.name}`);
    }
    for (const g of src.groups ?? []) assert.equal(res[`loc.group.displayName.${g.name}`], g.displayName);
    for (const [k, v] of Object.entries(shipped.messages)) {
      assert.equal(res[`loc.messages.${k}`], v, `${t}: message ${k}`);
      assert.equal(loc.messages[k], `ms-resource:loc.messages.${k}`);
    }
    // Everything else in task.loc.json is task.json unchanged (ids, versions, bindings, execution).
    assert.deepEqual(loc.dataSourceBindings, src.dataSourceBindings);
    assert.deepEqual(loc.execution, src.execution);
    assert.equal(loc.id, src.id);
  }
});

test('vss-extension.json has one contribution per task, no publisher, and files pointing at the built tasks', () => {
  const m = readJson(path.join(ROOT, 'vss-extension.json'));
  assert.equal(m.id, 'aml-secure-mlops');
  assert.equal(m.name, 'Secure MLOps for Azure Machine Learning');
  assert.equal(m.publisher, undefined, 'the publisher comes from an overrides file');
  const contributions = m.contributions.filter((c: { type: string }) => c.type === 'ms.vss-distributed-task.task');
  assert.deepEqual(
    contributions.map((c: { properties: { name: string } }) => c.properties.name).sort(),
    taskNames.map((t) => `tasks/${t}`).sort(),
  );
  for (const t of taskNames)
    assert.ok(
      m.files.some((f: { path: string; packagePath?: string }) => f.path === `dist/tasks/${t}` && f.packagePath === `tasks/${t}`),
      t,
    );
  assert.ok(fs.existsSync(path.join(ROOT, m.content.details.path)));
  assert.ok(fs.existsSync(path.join(ROOT, m.icons.default)));
});

test('the .vsix is at most 2 MiB, has no node_modules, and each task in it fails cleanly with no inputs', async () => {
  const version = readJson(path.join(ROOT, 'package.json')).version;
  const vsix = path.join(ROOT, 'dist', `aml-secure-mlops-${version}.vsix`);
  // `npm run package` made it in CI; make it here when the test runs alone.
  if (!fs.existsSync(vsix)) {
    const p = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'package.mjs')], { encoding: 'utf8' });
    assert.equal(p.status, 0, p.stderr);
  }
  const size = fs.statSync(vsix).size;
  assert.ok(size <= 2 * 1024 * 1024, `vsix is ${size} bytes`);
  const zip = await JSZip.loadAsync(fs.readFileSync(vsix));
  const names = Object.keys(zip.files);
  assert.deepEqual(
    names.filter((n) => n.includes('node_modules/')),
    [],
  );
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'vsix-'));
  for (const n of names) {
    const f = zip.files[n]!;
    if (f.dir) continue;
    fs.mkdirSync(path.dirname(path.join(out, n)), { recursive: true });
    fs.writeFileSync(path.join(out, n), await f.async('nodebuffer'));
  }
  // One version: package.json's, in the vsix manifest and in every task.json it ships.
  const [major, minor, patch] = String(version).split('.').map(Number);
  assert.match(
    fs.readFileSync(path.join(out, 'extension.vsixmanifest'), 'utf8'),
    new RegExp(`<Identity [^>]*Version="${String(version).replace(/\./g, '\\.')}"`),
  );
  for (const t of taskNames) {
    const dir = path.join(out, 'tasks', t);
    assert.ok(validate(readJson(path.join(dir, 'task.json'))), `${t} in the vsix: ${ajv.errorsText(validate.errors)}`);
    assert.deepEqual(
      readJson(path.join(dir, 'task.json')).version,
      { Major: major, Minor: minor, Patch: patch },
      `${t}: the version of package.json`,
    );
    const r = await runTask(t, { taskDir: dir, timeoutMs: 20_000 });
    assert.equal(r.result, 'Failed', t);
    assert.equal(r.errors.length, 1, `${t}: one error line, got ${JSON.stringify(r.errors)}`);
    assert.match(r.errors[0]!, /^Input '\w+'/, `${t}: names the input`);
    assert.doesNotMatch(r.stdout + r.stderr, /\n\s+at .+:\d+:\d+/, `${t}: no stack trace`);
  }
});

test('the version has one source: a version written into a task.json or the manifest is refused by the build and the package', () => {
  const sandbox = fs.mkdtempSync(path.join(os.tmpdir(), 'version-'));
  for (const f of ['package.json', 'vss-extension.json', 'tasks', 'scripts', 'overrides'])
    fs.cpSync(path.join(ROOT, f), path.join(sandbox, f), { recursive: true });
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(sandbox, 'node_modules'));
  const taskFile = path.join(sandbox, 'tasks', 'AmlPipelineJob', 'task.json');
  fs.writeFileSync(taskFile, JSON.stringify({ ...readJson(taskFile), version: { Major: 1, Minor: 2, Patch: 3 } }, null, 2));
  const build = spawnSync(process.execPath, [path.join(sandbox, 'scripts', 'build.mjs'), '--task', 'AmlPipelineJob', '--no-smoke'], {
    encoding: 'utf8',
    cwd: sandbox,
  });
  assert.notEqual(build.status, 0);
  assert.match(build.stderr, /tasks\/AmlPipelineJob\/task\.json sets "version"; remove it: the version comes from package\.json only/);
  const manifest = path.join(sandbox, 'vss-extension.json');
  fs.writeFileSync(manifest, JSON.stringify({ ...readJson(manifest), version: '9.9.9' }, null, 2));
  const pack = spawnSync(process.execPath, [path.join(sandbox, 'scripts', 'package.mjs')], { encoding: 'utf8', cwd: sandbox });
  assert.notEqual(pack.status, 0);
  assert.match(pack.stderr, /vss-extension\.json sets "version"; remove it/);
});

test('publishing under your own name: --release refuses the placeholder repository; your package.json repository becomes every link', async () => {
  const sandbox = fs.mkdtempSync(path.join(os.tmpdir(), 'publish-'));
  for (const f of [
    'package.json',
    'tsconfig.json',
    'vss-extension.json',
    'overview.md',
    'LICENSE',
    'images',
    'tasks',
    'cli',
    'scripts',
    'overrides',
  ])
    fs.cpSync(path.join(ROOT, f), path.join(sandbox, f), { recursive: true });
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(sandbox, 'node_modules'));
  const run = (script: string, ...args: string[]) =>
    spawnSync(process.execPath, [path.join(sandbox, 'scripts', script), ...args], { encoding: 'utf8', cwd: sandbox });
  assert.equal(run('build.mjs', '--no-smoke', '--quiet').status, 0);
  const placeholder = run('package.mjs', '--release', '--publisher', 'acme-ml');
  assert.notEqual(placeholder.status, 0);
  assert.match(
    placeholder.stderr,
    /package\.json "repository" is still the placeholder https:\/\/github\.com\/contoso\/aml-secure-mlops: set it to your repository's https URL/,
  );
  const pkg = readJson(path.join(sandbox, 'package.json'));
  fs.writeFileSync(
    path.join(sandbox, 'package.json'),
    JSON.stringify({ ...pkg, version: '1.4.2', repository: { type: 'git', url: 'git+https://github.com/acme/ml-platform.git' } }, null, 2),
  );
  assert.equal(run('build.mjs', '--no-smoke', '--quiet').status, 0);
  const ok = run('package.mjs', '--release', '--publisher', 'acme-ml');
  assert.equal(ok.status, 0, ok.stderr);
  const zip = await JSZip.loadAsync(fs.readFileSync(path.join(sandbox, 'dist', 'aml-secure-mlops-1.4.2.vsix')));
  const vsixManifest = await zip.file('extension.vsixmanifest')!.async('string');
  assert.match(vsixManifest, /Publisher="acme-ml"/);
  assert.match(vsixManifest, /Version="1\.4\.2"/);
  assert.doesNotMatch(vsixManifest, /contoso/);
  const task = JSON.parse(await zip.file('tasks/AmlAksDeploy/task.json')!.async('string')) as {
    helpUrl: string;
    helpMarkDown: string;
    version: unknown;
  };
  assert.equal(task.helpUrl, 'https://github.com/acme/ml-platform#amlaksdeploy1');
  assert.match(task.helpMarkDown, /\[Learn more\]\(https:\/\/github\.com\/acme\/ml-platform#amlaksdeploy1\)$/);
  assert.deepEqual(task.version, { Major: 1, Minor: 4, Patch: 2 });
});
