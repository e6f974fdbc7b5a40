/**
 * The corpus (test/fixtures/corpus: real job YAMLs from azureml-examples and mlops-project-template)
 * submitted by the bundled AmlPipelineJob task against the emulator, as a user's pipeline would.
 * A file the translation accepts must run to Completed; a file it refuses must fail with that same
 * message before anything is written to Azure. A file with local data or a Docker build context
 * uploads it to the workspace's default datastore under LocalUpload/<hash>/ first, at
 * https://<account>.blob.core.windows.net, reached as on a real agent through the agent's proxy
 * (here a tunnel to the emulator's Azurite). With CORPUS_TABLE_OUT set, the outcomes are
 * written there as a Markdown table (corpus file, step types, outcome).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { after, before, test } from 'node:test';
import { translateJob } from '../../tasks/AmlPipelineJob/translate';
import { corpusJobs } from '../oracle/differential';
import { tunnelHosts, type Tunnel } from '../../testkit/emulator/tunnel';
import { describe, seedCorpusWorkspace, startWorld, workspaceInputs, type World } from '../../testkit/world';

let w: World;
let internet: Tunnel;
let variables: Record<string, string>;
before(async () => {
  w = await startWorld();
  w.emu.aml.scriptJobs({ startDelayMs: 10, stepDurationMs: 20, phaseMs: 5 });
  await w.emu.storage.start();
  internet = await tunnelHosts([w.emu.storage.publicRoute()]);
  // Only storage goes through the proxy; Azure DevOps and ARM (the emulator's own address) go direct.
  variables = { 'Agent.ProxyUrl': internet.url, 'Agent.ProxyBypassList': JSON.stringify(['127\\.0\\.0\\.1']) };
});
after(async () => {
  await internet.close();
  await w.close();
});

const rows: string[] = [];

test('every corpus job is submitted and Completes, or is refused before any write with the translation message', async () => {
  const jobs = corpusJobs();
  let completed = 0;
  let datastore = 0;
  for (const j of jobs) {
    let expected: { steps: string; datastore: boolean } | { refused: string };
    try {
      const plan = translateJob(j.file, { root: j.root, overrides: [] });
      seedCorpusWorkspace(w, plan);
      const datastore = plan.refs.some((x) => x.kind === 'data' || (x.kind === 'environment' && x.env.build !== undefined));
      expected = {
        steps: plan.jobType === 'Pipeline' ? [...new Set(plan.steps.map((s) => s.type))].join(', ') : `${plan.jobType.toLowerCase()} job`,
        datastore,
      };
    } catch (e) {
      expected = { refused: (e as Error).message };
    }
    const since = w.emu.requests.length;
    const storageSince = w.emu.storage.requests.length;
    const r = await w.run('AmlPipelineJob', {
      connection: 'wif',
      inputs: { ...workspaceInputs(w.seed), jobFile: j.rel, timeoutMinutes: '5' },
      sources: j.root,
      variables,
    });
    const writes = w.emu.requests
      .slice(since)
      .filter((q) => q.service === 'arm' && q.method !== 'GET' && !/\/listSecrets$|startPendingUpload$/.test(q.path));
    const where = `${j.root.split('/').pop()}/${j.rel}`;
    if ('steps' in expected && expected.datastore) {
      assert.equal(r.result, 'Succeeded', `${where}\n${describe(r)}`);
      assert.equal(r.outputs.jobStatus, 'Completed', where);
      // Uploaded now, or (the same content as an earlier file of the corpus) found there and not sent again.
      const puts = w.emu.storage.requests
        .slice(storageSince)
        .filter((q) => q.method === 'PUT' && q.status === 201 && /^LocalUpload\/[0-9a-f]{32}\//.test(q.blob ?? ''));
      const reused = r.log.filter((l) => /^(Data|Build context) .*: unchanged \(/.test(l));
      assert.ok(puts.length > 0 || reused.length > 0, `${where}: nothing uploaded under LocalUpload/ and nothing reused\n${describe(r)}`);
      datastore++;
      completed++;
      rows.push(`| ${where} | ${expected.steps} | Completed (local data or build context uploaded to LocalUpload/) |`);
    } else if ('steps' in expected) {
      assert.equal(r.result, 'Succeeded', `${where}\n${describe(r)}`);
      assert.equal(r.outputs.jobStatus, 'Completed', where);
      completed++;
      rows.push(`| ${where} | ${expected.steps} | Completed |`);
    } else {
      assert.equal(r.result, 'Failed', where);
      assert.ok(
        r.errors.some((e) => e.includes(expected.refused.slice(0, 200))),
        `${where}: ${r.errors.join(' / ')}\nexpected: ${expected.refused}`,
      );
      assert.deepEqual(
        writes.map((q) => `${q.method} ${q.path}`),
        [],
        `${where}: nothing written before the refusal`,
      );
      rows.push(`| ${where} | - | refused: ${expected.refused.replace(/\|/g, '\\|').replace(`${j.rel}`, '').replace(/^ ?/, '')} |`);
    }
  }
  assert.ok(completed >= 45 && datastore >= 15, `completed: ${completed} of ${jobs.length} (${datastore} with a datastore upload)`);
  assert.ok(
    internet.connects.length > 0 && internet.connects.every((c) => /\.blob\.core\.windows\.net:443$/.test(c)),
    internet.connects.join(', '),
  );
  const out = process.env.CORPUS_TABLE_OUT;
  if (out) fs.writeFileSync(out, `| corpus file | step types | outcome |\n|---|---|---|\n${rows.join('\n')}\n`);
});
