/** AmlModelRegister@1 entry point: read and check every input, then call the core (azure.ts). */
import { runTask } from '../common/agent';
import { UserError } from '../common/errors';
import { connectionInput, keyValueLines, optionalGateSettings, workspaceInputs } from '../common/inputs';
import { msg } from './messages';
import { checkComparable, parseCompareWith, parseMetricGate } from './gate-expr';
import { checkJobName, checkModelName, checkModelPath, checkModelType, checkOnGateFail, checkUserTags, jobOfUri, parseModelOutput } from './spec';

runTask(__dirname, async (io) => {
  const connection = connectionInput(io)!;
  const ws = workspaceInputs(io);
  const modelName = checkModelName(io.input('modelName', true, msg('RequiredModelName')));
  const modelPath = io.input('modelPath');
  const source = modelPath ? checkModelPath(modelPath) : parseModelOutput(io.input('modelOutput') ?? 'model');
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
  if (conditions.length > 0 && !jobName) throw new UserError(msg('JobNameMissingForGate'), 'jobName');
  const compare = parseCompareWith(io.input('compareWith'));
  if (compare.kind !== 'none') {
    if (conditions.length === 0) throw new UserError(msg('CompareWithNeedsMetrics', io.input('compareWith')), 'compareWith');
    checkComparable(conditions);
  }
  const minImprovement = io.number('minImprovement', 0, 0, 1e12);
  const onGateFail = checkOnGateFail(io.input('onGateFail'));
  const branchGate = optionalGateSettings(io);

  // The Azure SDKs load only once the inputs are valid: a bad input fails fast and writes nothing.
  await (await import('./azure')).run(io, {
    connection,
    ws,
    ...(branchGate ? { branchGate } : {}),
    ...(jobName ? { jobName } : {}),
    source,
    model: { name: modelName, type: modelType, tags, ...(description ? { description } : {}) },
    gate: { conditions, compare, minImprovement, onGateFail },
  });
});
