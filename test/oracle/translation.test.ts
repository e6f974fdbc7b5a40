/**
 * Differential translation: every job YAML of the corpus through AmlPipelineJob's translation and
 * submission code (against an in-memory workspace) and through the official SDK (azure-ai-ml,
 * load_job + the SDK's own resolution with the service calls recorded). After normalisation the
 * bodies, the anonymous components (inlined where a step references them), the anonymous
 * environments and the LocalUpload folders must be equal, or the difference must be in the one
 * reviewed allow-list (allow-list.json). Fails, never skips, without python3-azure.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import type { JsonObject } from '../../tasks/AmlPipelineJob/plan';
import {
  allowedBy,
  corpusJobs,
  differences,
  loadAllowList,
  normaliser,
  normalisedBody,
  paramsOverride,
  runOracle,
  SCOPE,
  sdkOverrideFor,
  type CorpusJob,
  type Difference,
  type OracleResult,
} from './differential';
import { ourTranslation, type OurResult } from './ours';

const jobs = corpusJobs();
const allow = loadAllowList();
const used = new Set<string>();
const compared: string[] = [];
let sdk: OracleResult[] = [];

const overrideFor = (j: CorpusJob) => sdkOverrideFor(allow, j);

before(async () => {
  sdk = await runOracle(jobs.map((j) => ({ file: j.file, ...(overrideFor(j) ? { override: paramsOverride(overrideFor(j)) } : {}) })));
});

/** The anonymous environments each side registers, normalised, in a stable order. */
function environments(j: CorpusJob, r: OurResult | OracleResult): string[] {
  const norm = normaliser(j.root, r);
  return [...new Set(r.environments.map((e) => JSON.stringify(norm({ version: e.version, body: e.body } as JsonObject))))].sort();
}

describe('differential translation: AmlPipelineJob against azure-ai-ml on the corpus', () => {
  test('the corpus has at least 40 job files, each listed in a SOURCES.md', () => {
    assert.ok(jobs.length >= 40, `corpus jobs: ${jobs.length}`);
  });

  for (const [i, j] of jobs.entries()) {
    test(j.rel, async () => {
      const o = overrideFor(j);
      if (o) used.add(`override:${o.files.join(',')}`);
      const ours = await ourTranslation(j.file, j.root, SCOPE, o ? o.ours.split('\n') : []);
      const theirs = sdk[i]!;
      assert.equal(theirs.file, j.file);
      if (!ours.ok) {
        if (!theirs.ok) return; // Both refuse (the corpus table names our message).
        const r = allow.refusals.find((x) => j.rel.includes(x.file));
        assert.ok(r, `we refuse what the SDK sends, and no refusal entry says why:\n  ${ours.error}`);
        assert.ok(ours.error!.includes(r.ours), `our refusal changed:\n  ${ours.error}`);
        used.add(`refusal:${r.file}`);
        return;
      }
      assert.ok(theirs.ok, `the SDK refuses what we send: ${theirs.error}`);
      const diffs: Difference[] = differences(normalisedBody(j.root, ours), normalisedBody(j.root, theirs));
      const unexplained = diffs.filter((d) => {
        const e = allowedBy(allow.entries, j.rel, d);
        if (e) used.add(`entry:${e.id}`);
        return !e;
      });
      assert.deepEqual(
        unexplained.map((d) => `${d.path}: ours ${JSON.stringify(d.ours)} sdk ${JSON.stringify(d.sdk)}`),
        [],
      );
      assert.deepEqual(environments(j, ours), environments(j, theirs), 'anonymous environments');
      const hashes = (r: OurResult | OracleResult) => [...new Set(r.uploads.map((u) => u.hash))].sort();
      assert.deepEqual(hashes(ours), hashes(theirs), 'LocalUpload folders (the SDK object hash)');
      compared.push(j.rel);
    });
  }

  test('at least 40 files are compared body to body, and every allow-list entry is needed', () => {
    assert.ok(compared.length >= 40, `compared ${compared.length}: ${compared.join(', ')}`);
    const all = [
      ...allow.sdkOverrides.map((o) => `override:${o.files.join(',')}`),
      ...allow.refusals.map((r) => `refusal:${r.file}`),
      ...allow.entries.map((e) => `entry:${e.id}`),
    ];
    assert.deepEqual(
      all.filter((k) => !used.has(k)),
      [],
      'allow-list entries no file needs',
    );
    for (const e of [...allow.sdkOverrides, ...allow.refusals, ...allow.entries]) assert.ok(e.reason.length > 20, 'every entry says why');
  });
});
