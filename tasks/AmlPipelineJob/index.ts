/** AmlPipelineJob@1 entry point: read inputs, call the core, set outputs. */
import { runTask } from '../common/agent';
import { UserError } from '../common/errors';
import { connectionInput, openWorkspace, workspaceInputs } from '../common/session';

runTask(__dirname, async (io) => {
  const connection = connectionInput(io)!;
  const ws = workspaceInputs(io);
  io.file('jobFile', true, 'Give the path of a CLI v2 pipeline-job YAML (type: pipeline), relative to the repository root.');
  await openWorkspace(io, connection, ws);
  throw new UserError('AmlPipelineJob@1: this build validates inputs and access only; the operation itself ships with the task issue.');
});
