/**
 * Every YAML snippet of the documents a user reads (README.md, overview.md, templates/README.md)
 * runs: each is compiled as Azure DevOps would and rehearsed end to end with the bundled tasks
 * (scripts/demo.ts). A whole pipeline is rehearsed as written; the step and job snippets of one
 * document are put together, in the order the document shows them, into one pipeline (the steps
 * in a job named `train`, as the job snippets expect), as a user following the page would.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { parse, stringify } from 'yaml';
import { ROOT } from '../testkit/harness';

const DOCS = ['README.md', 'overview.md', 'templates/README.md'];

interface Snippet {
  doc: string;
  line: number;
  text: string;
  value: unknown;
}

function snippets(doc: string): Snippet[] {
  const text = fs.readFileSync(path.join(ROOT, doc), 'utf8');
  const out: Snippet[] = [];
  for (const m of text.matchAll(/^```ya?ml\n([\s\S]*?)^```/gm)) {
    const line = text.slice(0, m.index).split('\n').length;
    out.push({ doc, line, text: m[1]!, value: parse(m[1]!) });
  }
  return out;
}

const isPipeline = (v: unknown): boolean =>
  !!v && typeof v === 'object' && !Array.isArray(v) && ['extends', 'stages', 'jobs', 'steps'].some((k) => k in (v as object));

/** The step and job snippets of one document, in order, as one pipeline. */
function assemble(list: Snippet[]): Record<string, unknown> {
  const steps: unknown[] = [{ checkout: 'self' }];
  const jobs: unknown[] = [];
  for (const s of list) {
    for (const item of s.value as Array<Record<string, unknown>>) {
      if ('task' in item) steps.push(item);
      else if ('deployment' in item || 'job' in item) jobs.push(item);
      else assert.fail(`${s.doc}:${s.line}: a snippet item that is neither a step nor a job: ${JSON.stringify(item).slice(0, 80)}`);
    }
  }
  return { trigger: 'none', stages: [{ stage: 'Docs', jobs: [{ job: 'train', steps }, ...jobs] }] };
}

function rehearse(pipeline: string, extra: string[] = []): Promise<{ code: number | null; out: string }> {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'docs-rehearsal-'));
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        path.join(ROOT, 'scripts', 'demo.ts'),
        '--pipeline',
        pipeline,
        '--out',
        out,
        '--no-sandbox',
        '--no-color',
        ...extra,
      ],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let text = '';
    child.stdout.on('data', (d: Buffer) => (text += d.toString()));
    child.stderr.on('data', (d: Buffer) => (text += d.toString()));
    child.on('close', (code) => resolve({ code, out: text }));
  });
}

const all = DOCS.flatMap(snippets);
const dir = path.join(ROOT, 'dist', 'docs-snippets');

test('the documents hold the YAML snippets this test rehearses (a scan that finds nothing has failed)', () => {
  assert.ok(all.length >= 5, `only ${all.length} YAML snippets found in ${DOCS.join(', ')}`);
  for (const s of all)
    assert.ok(
      isPipeline(s.value) || Array.isArray(s.value),
      `${s.doc}:${s.line}: a snippet that is neither a pipeline nor a list of steps or jobs`,
    );
});

for (const doc of DOCS) {
  const mine = all.filter((s) => s.doc === doc);
  for (const s of mine.filter((x) => isPipeline(x.value))) {
    test(`${doc}:${s.line}: the pipeline snippet compiles and rehearses green`, { timeout: 300_000 }, async () => {
      fs.mkdirSync(dir, { recursive: true });
      const file = path.join(dir, `${doc.replace(/\W/g, '_')}-${s.line}.yml`);
      fs.writeFileSync(file, s.text);
      // A snippet that takes the templates from a repository resource: this repository is that copy.
      const repos = ((s.value as { resources?: { repositories?: Array<{ repository: string }> } }).resources?.repositories ?? []).flatMap(
        (r) => ['--repository', `${r.repository}=.`],
      );
      const r = await rehearse(path.relative(ROOT, file), repos);
      assert.equal(r.code, 0, r.out.slice(-5000));
      assert.match(r.out, /The rehearsal behaved as expected\./);
    });
  }
  const parts = mine.filter((x) => Array.isArray(x.value));
  if (parts.length) {
    test(
      `${doc}: the step and job snippets (${parts.map((p) => `line ${p.line}`).join(', ')}) run together, in order, green`,
      { timeout: 300_000 },
      async () => {
        fs.mkdirSync(dir, { recursive: true });
        const file = path.join(dir, `${doc.replace(/\W/g, '_')}-steps.yml`);
        fs.writeFileSync(file, stringify(assemble(parts)));
        const r = await rehearse(path.relative(ROOT, file));
        assert.equal(r.code, 0, r.out.slice(-5000));
        assert.match(r.out, /The rehearsal behaved as expected\./);
        // Every snippet's task ran: the steps' names appear in the rehearsal's log as they ran.
        for (const p of parts)
          for (const item of p.value as Array<Record<string, unknown>>) {
            const step =
              'task' in item
                ? item
                : ((
                    item.strategy as { runOnce: { deploy: { steps: Array<Record<string, unknown>> } } } | undefined
                  )?.runOnce.deploy.steps.find((x) => 'task' in x) ?? {});
            if (step.task)
              assert.match(
                r.out,
                new RegExp(`${String(step.task).replace(/[@.]/g, '\\$&')}[\\s\\S]*Succeeded`),
                `${doc}:${p.line} ${String(step.task)}`,
              );
          }
      },
    );
  }
}

/**
 * Every shell command the documents show is exercised by a test: the table maps each to the test
 * that runs it (a new command without an entry fails here), and the cheap ones run right here.
 */
const COMMANDS: Array<[RegExp, string]> = [
  [/^npm ci$/, '.ci/run installs with it before every test'],
  [/^npm ci && npm run demo$/, 'test/demo.test.ts (the green rehearsal, scripts/demo.ts)'],
  [/^npm test$/, '.ci/run'],
  [/^npm run lint$/, '.ci/run'],
  [/^npm run demo -- --variant bad-model$/, 'test/demo.test.ts (bad-model)'],
  [/^npm run demo -- --pipeline \S+$/, 'test/demo.test.ts (unsupported pipeline) and test/docs.test.ts'],
  [/^npm run demo -- --parameters \S+$/, 'test/demo.test.ts (missing, mistyped)'],
  [/^npm run demo -- --pipeline \S+ --repository mlops=\.$/, 'test/docs.test.ts (overview.md)'],
  [/^npm run task -- AmlPipelineJob( --input \S+)+$/, 'test/run-task.test.ts'],
  [/^npm run task -- --help$/, 'here'],
  [/^npm ci && npm pack$/, 'test/cli.test.ts (npm pack ships the command)'],
  [/^npm install -g \S+\.tgz$/, 'test/cli.test.ts (npm pack ships the command)'],
  [/^aml-secure-mlops check-privatelink --workspace \S+ --resource-group \S+$/, 'test/cli.test.ts (developer sign-in)'],
  [/^aml-secure-mlops check-privatelink --fqdns \S+ --dns-servers \S+$/, 'test/cli.test.ts (explicit names)'],
  [/^npm run build -- --no-smoke$/, 'npm run demo and npm run bench run it (package.json); .ci/run builds with smoke checks'],
  [/^node scripts\/test\.mjs( --list| --test-name-pattern '[^']*'| [^\s-]\S*)+$/, 'here and test/unit/test-runner.test.ts'],
  [/^npm run package -- --release --publisher <id>$/, 'test/package.test.ts (publishing under your own name)'],
  [/^npx tfx extension publish .*$/, 'not run: it uploads to the Marketplace'],
];

function commands(doc: string): string[] {
  const text = fs.readFileSync(path.join(ROOT, doc), 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/^[ \t]*```(?:sh|bash)\n([\s\S]*?)^[ \t]*```/gm)) {
    const joined = m[1]!.replace(/\\\n\s*/g, ' ');
    for (const line of joined.split('\n')) {
      const c = line.replace(/\s+#.*$/, '').trim();
      if (c) out.push(c);
    }
  }
  // Inline `npm run ...` commands in prose count too.
  for (const m of text.matchAll(/`(npm run [^`]+)`/g)) out.push(m[1]!.trim());
  return out;
}

test('every documented shell command is exercised by a test', () => {
  const docs = [...DOCS, 'CONTRIBUTING.md', 'SECURITY.md'];
  const found = docs.flatMap((d) => commands(d).map((c) => ({ d, c })));
  assert.ok(found.length >= 15, `only ${found.length} commands found`);
  const inline = /^npm run (demo|demo:fail|package|bench|emulator|pickers|test:faults|test:unit|task|build|format|format:check)( --.*)?$/;
  for (const { d, c } of found) {
    if (inline.test(c) && !COMMANDS.some(([re]) => re.test(c))) continue; // npm scripts named in prose: package.json has each (checked below)
    assert.ok(
      COMMANDS.some(([re]) => re.test(c)),
      `${d}: the command '${c}' is exercised by no test: add it to COMMANDS with the test that runs it`,
    );
  }
  const scripts = Object.keys(
    (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts,
  );
  for (const { d, c } of found) {
    const m = /^npm run ([\w:-]+)/.exec(c);
    if (m) assert.ok(scripts.includes(m[1]!), `${d}: 'npm run ${m[1]}' is not a script of package.json`);
  }
});

test('the cheap documented commands run as documented', () => {
  const run = (cmd: string, args: string[]) => spawnSync(cmd, args, { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  const help = run(process.execPath, ['--import', 'tsx', 'scripts/run-task.ts', '--help']);
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout, /^Usage: npm run task -- <Task> \[options\]/);
  const none = run(process.execPath, ['scripts/test.mjs', 'no-such-test-file']);
  assert.equal(none.status, 1);
  assert.match(none.stderr, /no test file's path contains all of: no-such-test-file/);
});
