/** AmlModelRegister@1 entry point: read and check every input, then call the core (azure.ts). */
import { runTask } from '../common/agent';
import { UserError } from '../common/errors';
import { connectionInput, keyValueLines, optionalGateSettings, workspaceInputs } from '../common/inputs';
import { msg } from './messages';
import { checkComparable, parseCompareWith, parseMetricGate } from './gate-expr';
import { isRegistryName } from '../common/names';
import {
  checkJobName,
  checkModelName,
  checkModelPath,
  checkModelType,
  checkOnGateFail,
  checkUserTags,
  jobOfUri,
  parseModelOutput,
  parseSourceModel,
} from './spec';

runTask(__dirname, async (io) => {
  const connection = connectionInput(io)!;
  const ws = workspaceInputs(io);
  const modelName = checkModelName(io.input('modelName', true, msg('RequiredModelName')));
  const modelPath = io.input('modelPath');
  // Promotion: a registry to create the version in, optionally from a version of the workspace.
  const registryName = io.input('registryName');
  if (registryName && !isRegistryName(registryName)) throw new UserError(msg('RegistryNameInvalid', registryName), 'registryName');
  const registryResourceGroup = io.input('registryResourceGroup');
  const sourceModel = io.input('sourceModel');
  for (const [input, value] of [
    ['registryResourceGroup', registryResourceGroup],
    ['sourceModel', sourceModel],
  ] as const) {
    if (value && !registryName) throw new UserError(msg('RegistryInputsWithoutRegistry', input, input), input);
  }
  if (registryResourceGroup && (!/^[-\w._()]{1,90}$/.test(registryResourceGroup) || registryResourceGroup.endsWith('.'))) {
    throw new UserError(msg('RegistryResourceGroupInvalid', registryResourceGroup), 'registryResourceGroup');
  }
  if (sourceModel && modelPath) throw new UserError(msg('SourceModelWithPath'), 'sourceModel');
  const source = sourceModel
    ? parseSourceModel(sourceModel)
    : modelPath
      ? checkModelPath(modelPath)
      : parseModelOutput(io.input('modelOutput') ?? 'model');
  let jobName = io.input('jobName');
  if (jobName) checkJobName(jobName);
  // A job-output URI names its job: lineage and the completed-job check use it.
  else if (source.kind === 'path') jobName = jobOfUri(source.uri);
  if (!jobName && source.kind === 'output') {
    throw new UserError(msg('JobNameMissing'), 'jobName');
  }
  const description = io.input('description');
  const modelType = checkModelType(io.input('modelType'));
  const tags = checkUserTags(keyValueLines(io, 'tags', 'stage=candidate'));

  const conditions = parseMetricGate(io.input('metricGate'));
  // A shared version names its job (checked once it is read).
  if (conditions.length > 0 && !jobName && source.kind !== 'model') throw new UserError(msg('JobNameMissingForGate'), 'jobName');
  const compare = parseCompareWith(io.input('compareWith'));
  if (compare.kind !== 'none') {
    if (conditions.length === 0) throw new UserError(msg('CompareWithNeedsMetrics', io.input('compareWith')), 'compareWith');
    checkComparable(conditions);
  }
  const minImprovement = io.number('minImprovement', 0, 0, 1e12);
  const onGateFail = checkOnGateFail(io.input('onGateFail'));
  const branchGate = optionalGateSettings(io);

  // The Azure SDKs load only once the inputs are valid: a bad input fails fast and writes nothing.
  await (
    await import('./azure')
  ).run(io, {
    connection,
    ws,
    ...(branchGate ? { branchGate } : {}),
    ...(jobName ? { jobName } : {}),
    source,
    model: { name: modelName, type: modelType, tags, ...(description ? { description } : {}) },
    gate: { conditions, compare, minImprovement, onGateFail },
    ...(registryName
      ? { registry: { name: registryName, ...(registryResourceGroup ? { resourceGroup: registryResourceGroup } : {}) } }
      : {}),
  });
});
