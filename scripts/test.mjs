#!/usr/bin/env node
/**
 * Runs every test/**\/*.test.ts with node's test runner (node 20's --test takes no globs).
 * Usage: node scripts/test.mjs [substring ...] [--test-name-pattern=<regex> ...]
 *   substrings   only files whose path contains every one of them (they narrow: `agent gate` is
 *                test/agent/gate*.test.ts, not every agent test plus every gate test)
 *   --test-name-pattern <regex>   passed to node: only tests whose name matches (repeatable)
 *   --list       print the selected files and stop
 * The agent-level tests run the bundles in dist/: a warning says when dist/ is older than the
 * sources it is built from (run `npm run build` then).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const walk = (d, keep) =>
  fs.existsSync(d)
    ? fs
        .readdirSync(d, { withFileTypes: true })
        .flatMap((e) => (e.isDirectory() ? walk(path.join(d, e.name), keep) : keep(e.name) ? [path.join(d, e.name)] : []))
    : [];

/** Splits argv into path substrings and the options passed through to node's test runner. */
export function parseArgs(argv) {
  const filters = [];
  const nodeArgs = [];
  let list = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith('--test-name-pattern=')) nodeArgs.push(a);
    else if (a === '--test-name-pattern') {
      if (i + 1 >= argv.length) throw new Error('--test-name-pattern needs a pattern');
      nodeArgs.push(`--test-name-pattern=${argv[++i]}`);
    } else if (a === '--list') list = true;
    else if (a.startsWith('-')) throw new Error(`unknown option ${a} (options: --test-name-pattern <regex>, --list)`);
    else filters.push(a);
  }
  return { filters, nodeArgs, list };
}

/** Test files (relative to root) whose path contains every filter. */
export function selectFiles(files, filters) {
  return files.filter((f) => filters.every((s) => f.includes(s))).sort();
}

// A test runs dist/ when it, or a test helper it imports, starts a bundled task or names dist/.
const RUNS_DIST = /\brunTask\b|\bDIST\b|\bstartWorld\b|['"`/]dist['"`/]/;
function runsDist(file) {
  const text = fs.readFileSync(path.join(root, file), 'utf8');
  if (RUNS_DIST.test(text)) return true;
  for (const [, rel] of text.matchAll(/from '(\.{1,2}\/[^']+)'/g)) {
    const dep = path.join(root, path.dirname(file), `${rel}.ts`);
    if (fs.existsSync(dep) && RUNS_DIST.test(fs.readFileSync(dep, 'utf8'))) return true;
  }
  return false;
}

/** Why dist/ cannot be trusted for the agent-level tests, or undefined when it is current. */
function staleDist() {
  const outputs = [
    ...walk(path.join(root, 'dist', 'tasks'), (n) => n.endsWith('.js')),
    ...walk(path.join(root, 'dist', 'cli'), (n) => n.endsWith('.js')),
  ];
  if (outputs.length === 0) return 'dist/ has no bundles';
  const built = Math.min(...outputs.map((f) => fs.statSync(f).mtimeMs));
  const sources = [
    ...walk(path.join(root, 'tasks'), () => true),
    ...walk(path.join(root, 'cli'), () => true),
    ...['scripts/build.mjs', 'scripts/task-json.mjs', 'package.json'].map((f) => path.join(root, f)),
  ];
  const newer = sources.filter((f) => fs.existsSync(f) && fs.statSync(f).mtimeMs > built).map((f) => path.relative(root, f));
  if (newer.length === 0) return undefined;
  return `dist/ is older than ${newer.slice(0, 3).join(', ')}${newer.length > 3 ? ` and ${newer.length - 3} more` : ''}`;
}

function main() {
  let args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(e.message);
    process.exit(2);
  }
  const all = walk(path.join(root, 'test'), (n) => n.endsWith('.test.ts')).map((f) => path.relative(root, f));
  const files = selectFiles(all, args.filters);
  if (files.length === 0) {
    console.error(`no test file's path contains all of: ${args.filters.join(', ')}`);
    process.exit(1);
  }
  if (args.list) {
    console.log(files.join('\n'));
    return;
  }
  if (files.some(runsDist)) {
    const why = staleDist();
    if (why) console.error(`warning: ${why}; the agent-level tests run the bundles, so run \`npm run build\` first.`);
  }
  // With a name pattern, a second (TAP) report to a file tells whether any test matched: a pattern
  // that selects nothing would otherwise pass with every test skipped.
  const tap = args.nodeArgs.length ? path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'aml-test-')), 'report.tap') : undefined;
  const reporters = tap
    ? [
        '--test-reporter',
        process.stdout.isTTY ? 'spec' : 'tap',
        '--test-reporter-destination',
        'stdout',
        '--test-reporter',
        'tap',
        '--test-reporter-destination',
        tap,
      ]
    : [];
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', ...reporters, ...args.nodeArgs, ...files], {
    cwd: root,
    stdio: 'inherit',
  });
  if (tap) {
    const report = fs.existsSync(tap) ? fs.readFileSync(tap, 'utf8') : '';
    fs.rmSync(path.dirname(tap), { recursive: true, force: true });
    const count = (k) => Number([...report.matchAll(new RegExp(`^# ${k} (\\d+)$`, 'gm'))].at(-1)?.[1] ?? 0);
    if (r.status === 0 && count('tests') - count('skipped') <= 0) {
      console.error(
        `no test name matches ${args.nodeArgs.map((a) => a.slice('--test-name-pattern='.length)).join(' or ')} in the selected files`,
      );
      process.exit(1);
    }
  }
  process.exit(r.status ?? 1);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
