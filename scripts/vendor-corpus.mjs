#!/usr/bin/env node
/**
 * Vendors real Azure ML job YAML files into test/fixtures/corpus from local git clones (maintenance
 * only; nothing runs this at build or test time). Each listed job file is copied byte for byte from
 * the clone's HEAD, with every YAML it references (component, trial, nested pipeline, conda files)
 * copied the same way; code and data folders become small placeholders (their names kept, content
 * not), except MLTable, Dockerfile, conda and ignore files, which are copied because they are
 * specifications. The corpus INDEX.md records repository, commit, source path and licence.
 *
 *   node scripts/vendor-corpus.mjs <clone dir> <owner/name> <job path> [<job path> ...]
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const [clone, repo, ...jobs] = process.argv.slice(2);
if (!clone || !repo || jobs.length === 0) {
  console.error('usage: node scripts/vendor-corpus.mjs <clone dir> <owner/name> <job path> [...]');
  process.exit(2);
}
const git = (...args) => execFileSync('git', ['-C', clone, ...args], { maxBuffer: 64 << 20 });
const commit = git('rev-parse', 'HEAD').toString().trim();
const tree = new Set(git('ls-tree', '-r', '--name-only', 'HEAD').toString().split('\n').filter(Boolean));
const dirs = new Set();
for (const f of tree) for (let d = path.posix.dirname(f); d !== '.'; d = path.posix.dirname(d)) dirs.add(d);
const out = path.join(root, 'test', 'fixtures', 'corpus', repo.replace('/', '+'));
const SPEC_FILE = /(^|\/)(MLTable|Dockerfile|\.amlignore|\.gitignore|requirements\.txt|conda[^/]*\.ya?ml|[^/]*env[^/]*\.ya?ml)$/i;
const PATH_KEYS = new Set(['path', 'code', 'conda_file', 'component', 'trial', 'local_path', 'py_files', 'jars', 'files', 'archives']);
const MAX_PLACEHOLDERS = 12;

const exact = new Map(); // repo path -> role
const placeholders = new Set();

function local(fromFile, value) {
  if (typeof value !== 'string') return undefined;
  let v = value.trim().replace(/^file:/i, '');
  if (!v || /^[a-z][a-z0-9+.-]*:/i.test(v) || v.includes('${{') || v.startsWith('/')) return undefined;
  const p = path.posix.normalize(path.posix.join(path.posix.dirname(fromFile), v)).replace(/\/$/, '');
  if (p.startsWith('..')) return undefined;
  return tree.has(p) ? { kind: 'file', p } : dirs.has(p) || p === '.' ? { kind: 'dir', p } : undefined;
}

function visit(file, role) {
  if (exact.has(file)) return;
  exact.set(file, role);
  let doc;
  try {
    doc = parse(git('show', `HEAD:${file}`).toString());
  } catch {
    return;
  }
  const walk = (v, key) => {
    if (Array.isArray(v)) return v.forEach((x) => walk(x, key));
    if (v && typeof v === 'object') return Object.entries(v).forEach(([k, x]) => walk(x, k));
    if (!PATH_KEYS.has(key) && !(typeof v === 'string' && /^(\.\.?\/|file:)/.test(v))) return;
    const ref = local(file, v);
    if (!ref) return;
    if (ref.kind === 'file') {
      if (/\.ya?ml$/i.test(ref.p) || SPEC_FILE.test(ref.p)) visit(ref.p, `referenced by ${file}`);
      else placeholders.add(ref.p);
      return;
    }
    const inside = [...tree].filter((f) => ref.p === '.' || f.startsWith(`${ref.p}/`)).sort();
    let n = 0;
    for (const f of inside) {
      if (SPEC_FILE.test(f)) visit(f, `specification in ${ref.p}/`);
      else if (n++ < MAX_PLACEHOLDERS && !/\.(ya?ml|md)$/i.test(f)) placeholders.add(f);
    }
    if (n === 0 && ![...exact.keys()].some((f) => f.startsWith(`${ref.p}/`))) placeholders.add(`${ref.p}/placeholder.txt`);
  };
  walk(doc, '');
}

for (const j of jobs) {
  if (!tree.has(j)) throw new Error(`${j} is not in ${repo}@${commit}`);
  visit(j, 'job');
}
for (const [f] of exact) {
  const dest = path.join(out, f);
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  fs.writeFileSync(dest, git('show', `HEAD:${f}`));
}
for (const f of placeholders) {
  if (exact.has(f)) continue;
  const dest = path.join(out, f);
  if (fs.existsSync(dest)) continue;
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  fs.writeFileSync(dest, `placeholder for ${repo}/${f} (not vendored: the tests need the file, not its content)\n`);
}
for (const lic of ['LICENSE', 'LICENSE.md', 'LICENSE.MD']) {
  if (tree.has(lic)) fs.writeFileSync(path.join(out, 'LICENSE'), git('show', `HEAD:${lic}`));
}
const rows = [...exact].map(([f, role]) => `| ${repo} | \`${commit}\` | \`${f}\` | ${role} |`);
const ph = [...placeholders]
  .filter((f) => !exact.has(f))
  .sort()
  .map((f) => `- \`${f}\``);
fs.writeFileSync(
  path.join(out, 'SOURCES.md'),
  [
    `# ${repo} at ${commit}`,
    '',
    'Copied byte for byte (licence: LICENSE in this folder):',
    '',
    '| repository | commit | path | role |',
    '|---|---|---|---|',
    ...rows,
    '',
    'Placeholders (name kept, content not vendored):',
    '',
    ...ph,
    '',
  ].join('\n'),
);
console.log(`${repo}@${commit.slice(0, 12)}: ${exact.size} files copied, ${ph.length} placeholders`);
