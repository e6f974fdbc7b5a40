/** AmlPipelineJob@1 entry point: read inputs, call the core, set outputs. */
import { runTask } from '../common/agent';
import { connectionInput, workspaceInputs } from '../common/inputs';

runTask(__dirname, async (io) => {
  const connection = connectionInput(io)!;
  const ws = workspaceInputs(io);
  io.file('jobFile', true, 'Give the path of a CLI v2 pipeline-job YAML (type: pipeline), relative to the repository root.');
  // The Azure SDKs load only once the inputs are valid: a bad input fails fast.
  await (await import('./azure')).run(io, connection, ws);
});
