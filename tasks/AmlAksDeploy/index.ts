/** AmlAksDeploy@1 entry point: read inputs, call the core, set outputs. */
import { runTask } from '../common/agent';
import { UserError } from '../common/errors';
import { connectionInput, openWorkspace, workspaceInputs } from '../common/session';

runTask(__dirname, async (io) => {
  const connection = connectionInput(io)!;
  const ws = workspaceInputs(io);
  io.input('endpointName', true, 'Set the name of the Azure ML online endpoint to deploy to.');
  io.input('computeName', true, 'Set the name of the AKS cluster attached to the workspace as a Kubernetes compute.');
  io.input('model', true, 'Set the model as name:version, azureml:name:version, or the register task\'s modelId output.');
  await openWorkspace(io, connection, ws);
  throw new UserError('AmlAksDeploy@1: this build validates inputs and access only; the operation itself ships with the task issue.');
});
