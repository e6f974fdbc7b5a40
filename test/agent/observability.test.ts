/**
 * Under System.Debug the bundled task logs each Azure request (method, host, path, status, time,
 * correlation and request ids) as a debug line (the agent shows debug lines only then), with
 * nothing secret in it. A
 * 5xx that outlasts the retries names the correlation id to quote to Azure support.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { copySample } from '../../testkit/pipeline-sample';
import type { TaskRun } from '../../testkit/harness';
import { assertNoLeaks, describe, startWorld, workspaceInputs, type World } from '../../testkit/world';

let w: World;
let sample: string;
before(async () => {
  w = await startWorld();
  sample = copySample();
  w.emu.aml.addData(w.seed.workspace.id, 'taxi-test', '1', 'azureml://datastores/workspaceblobstore/paths/taxi/test/');
  w.emu.aml.scriptJobs({ startDelayMs: 10, stepDurationMs: 40, phaseMs: 2 });
});
after(async () => {
  assertNoLeaks(w);
  await w.close();
});

const submit = (variables: Record<string, string> = {}) =>
  w.run('AmlPipelineJob', {
    connection: 'wif',
    inputs: { ...workspaceInputs(w.seed), jobFile: 'pipeline.yml', wait: 'false' },
    sources: sample,
    variables,
  });
const requestLines = (r: TaskRun) =>
  r.commands.filter((c) => c.name === 'task.debug' && c.message.startsWith('HTTP ')).map((c) => c.message);

test('System.Debug: one line per request with method, path, status and the correlation id; no query, no secret', async () => {
  const r = await submit({ 'System.Debug': 'true' });
  assert.equal(r.result, 'Succeeded', describe(r));
  const lines = requestLines(r);
  assert.ok(lines.length >= 3, `request lines:\n${lines.join('\n')}`);
  // The workspace read is @azure/arm-machinelearning's call (mlClient): the SDK sends through the same pipeline as JsonClient.
  const workspaceGet = lines.find((l) =>
    /^HTTP GET [^ ]+\/subscriptions\/[^ ]+\/workspaces\/mlw-prod -> 200 \(\d+ ms\) x-ms-correlation-request-id: \S+/.test(l),
  );
  assert.ok(workspaceGet, `the workspace read with its correlation id:\n${lines.join('\n')}`);
  assert.ok(
    lines.some((l) => /^HTTP PUT .*\/jobs\/[^ ]+ -> 20[01] /.test(l)),
    `the job PUT:\n${lines.join('\n')}`,
  );
  for (const l of lines) {
    assert.doesNotMatch(l, /\?|api-version|sig=|Bearer|eyJ/i, `no query or token in: ${l}`);
    for (const s of r.secrets) if (s.length > 3) assert.ok(!l.includes(s), `a secret in: ${l}`);
  }
});

test('a 5xx that outlasts the retries names the correlation id to quote to Azure support', async () => {
  const fault = w.emu.faults.add({
    service: 'arm',
    method: 'GET',
    path: /\/workspaces\/mlw-prod\?/,
    kind: 'status',
    status: 503,
    retryAfterSeconds: 0,
    times: Infinity,
  });
  try {
    const r = await submit();
    assert.equal(r.result, 'Failed', describe(r));
    const last = w.emu.requests.filter((q) => q.service === 'arm' && /\/workspaces\/mlw-prod$/.test(q.path.split('?')[0]!)).pop();
    assert.ok(last, 'the workspace GET reached the emulator');
    assert.match(r.errors.join('\n'), /Azure returned 503.* quote correlation id [0-9a-f-]{8,} to Azure support/);
    assert.ok(fault.hits >= 2, `retried: ${fault.hits}`);
  } finally {
    fault.remove();
  }
});
