/** AmlPipelineJob@1 entry point: read inputs, call the core, set outputs. */
import { runTask } from '../common/agent';
import { inputError } from '../common/errors';
import { connectionInput, gateSettings, keyValueLines, workspaceInputs } from '../common/inputs';
import { msg } from './messages';

runTask(__dirname, async (io) => {
  const connection = connectionInput(io)!;
  const ws = workspaceInputs(io);
  const gate = gateSettings(io);
  const jobFile = io.file('jobFile', true, msg('JobFileFix'));
  const root = io.sourcesRoot();
  const timeoutMs = Math.round(io.number('timeoutMinutes', 120, 0, 60 * 24 * 30) * 60_000);
  const experimentName = io.input('experimentName');
  // Azure ML's rule for experiment names: one line of letters, digits, '.', '-' and '_'.
  if (experimentName && !/^[A-Za-z0-9_-][A-Za-z0-9._-]{0,254}$/.test(experimentName)) {
    throw inputError('experimentName', msg('ExperimentNameInvalid', experimentName), msg('ExperimentNameInvalidFix'));
  }
  const displayName = io.input('displayName');
  const job = {
    file: jobFile,
    overrides: io.lines('overrides'),
    tags: keyValueLines(io, 'tags', 'team=fraud'),
    ...(experimentName ? { experimentName } : {}),
    ...(displayName ? { displayName } : {}),
  };
  // The YAML translation and the Azure SDKs load only once the inputs are valid.
  await (
    await import('./azure')
  ).run(io, { connection, ws, job, root, gate, wait: io.bool('wait', true), timeoutMs, cancelOnTimeout: io.bool('cancelOnTimeout', true) });
});
