/** AmlModelRegister@1 entry point: read inputs, call the core, set outputs. */
import { runTask } from '../common/agent';
import { UserError } from '../common/errors';
import { connectionInput, workspaceInputs } from '../common/inputs';

runTask(__dirname, async (io) => {
  const connection = connectionInput(io)!;
  const ws = workspaceInputs(io);
  io.input('modelName', true, 'Set the name of the model to register, e.g. credit-default.');
  if (!io.input('jobName') && !io.input('modelPath')) throw new UserError("Input 'jobName': set the job that produced the model (usually $(train.jobName)), or set 'modelPath' to an azureml:// URI.", 'jobName');
  // The Azure SDKs load only once the inputs are valid: a bad input fails fast.
  await (await import('./azure')).run(io, connection, ws);
});
