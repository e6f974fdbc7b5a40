/** AmlAksDeploy@1 entry point: read and check every input, then call the core (azure.ts). */
import * as path from 'node:path';
import { runTask } from '../common/agent';
import { inputError } from '../common/errors';
import { connectionInput, optionalGateSettings, workspaceInputs } from '../common/inputs';
import { msg } from './messages';
import { parseProductionTag } from './production-tag';
import { parseRollout } from './rollout';
import { parseExpectation } from './smoke';
import { checkOnlineName, parseAuthMode, parseModelRef } from './spec';

runTask(__dirname, async (io) => {
  const connection = connectionInput(io)!;
  const ws = workspaceInputs(io);
  const endpointName = checkOnlineName('endpointName', io.input('endpointName', true, msg('EndpointNameRequiredFix')));
  const computeName = io.input('computeName', true, msg('ComputeNameRequiredFix'));
  if (!/^[A-Za-z][A-Za-z0-9-]{1,31}$/.test(computeName))
    throw inputError('computeName', msg('ComputeNameInvalid', computeName), msg('ComputeNameInvalidFix'));
  const model = parseModelRef(io.input('model', true, msg('ModelRequiredFix')));
  if (model.workspace && model.workspace.name.toLowerCase() !== ws.name.toLowerCase()) {
    throw inputError('model', msg('ModelIdOtherWorkspace', model.workspace.name, ws.name), msg('ModelIdOtherWorkspaceFix'));
  }
  const deploymentName = io.input('deploymentName');
  if (deploymentName) checkOnlineName('deploymentName', deploymentName);
  const deploymentFile = io.file('deploymentFile');
  const instanceType = io.input('instanceType');
  const instanceCount = io.input('instanceCount') ? io.int('instanceCount', 1, 1, 1000) : undefined;
  const authMode = parseAuthMode(io.input('authMode'));
  const steps = parseRollout(io.input('rollout'));
  const stepWaitSeconds = io.int('stepWaitSeconds', 60, 0, 24 * 3600);
  const root = io.sourcesRoot();
  // Checked here, read only after the branch gate (azure.ts).
  const smokeFile = io.file('smokeTestFile');
  const smoke = smokeFile
    ? { path: smokeFile, file: path.relative(root, smokeFile) || smokeFile, written: io.input('smokeTestFile')! }
    : undefined;
  const expect = parseExpectation(io.input('smokeTestExpect'));
  const productionTag = parseProductionTag(io.input('productionTag') ?? 'stage=production');
  const branchGate = optionalGateSettings(io);

  // The Azure SDKs (and the YAML reader) load only once the inputs are valid: a bad input fails fast.
  await (
    await import('./azure')
  ).run(io, {
    connection,
    ws,
    ...(branchGate ? { branchGate } : {}),
    endpointName,
    computeName,
    model,
    ...(deploymentName ? { deploymentName } : {}),
    ...(deploymentFile ? { deploymentFile } : {}),
    root,
    ...(instanceType ? { instanceType } : {}),
    ...(instanceCount !== undefined ? { instanceCount } : {}),
    authMode,
    steps,
    stepWaitSeconds,
    ...(smoke ? { smoke } : {}),
    expect,
    rollbackOnFailure: io.bool('rollbackOnFailure', true),
    keepPrevious: io.bool('keepPrevious', false),
    keepFailedDeployment: io.bool('keepFailedDeployment', false),
    ...(productionTag ? { productionTag } : {}),
  });
});
