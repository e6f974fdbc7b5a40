/** AmlAksDeploy@1 entry point: read inputs, call the core, set outputs. */
import { runTask } from '../common/agent';
import { connectionInput, workspaceInputs } from '../common/inputs';

runTask(__dirname, async (io) => {
  const connection = connectionInput(io)!;
  const ws = workspaceInputs(io);
  io.input('endpointName', true, 'Set the name of the Azure ML online endpoint to deploy to.');
  io.input('computeName', true, 'Set the name of the AKS cluster attached to the workspace as a Kubernetes compute.');
  io.input('model', true, 'Set the model as name:version, azureml:name:version, or the register task\'s modelId output.');
  // The Azure SDKs load only once the inputs are valid: a bad input fails fast.
  await (await import('./azure')).run(io, connection, ws);
});
