/**
 * AutoML steps for tabular data: classification, regression and forecasting, with training,
 * validation and test data bound to pipeline inputs or step outputs. The SDK sends an AutoML
 * node as its YAML form (AutoMLJob._to_dict): the settings as written, log_verbosity defaulting
 * to info, empty tags and properties, outputs in the node's REST form.
 */
import { isObj, type LoadedYaml, type YamlPath } from '../common/yaml';
import { computeValue } from './fields';
import { checkKeys, stringMap, text } from '../common/yaml-fields';
import { findBindings, isWholeBinding, stepOutput } from './io';
import { msg } from './messages';
import type { JsonObject, TemplateObject } from './plan';
import { STEP_HINTS } from './fields';
import type { NodeBuild, NodeEnv } from './nodes';
import type { StepPorts } from './ports';

const TASKS = ['classification', 'regression', 'forecasting'];
const OTHER_TASKS = [
  'image_classification',
  'image_classification_multilabel',
  'image_object_detection',
  'image_instance_segmentation',
  'text_classification',
  'text_classification_multilabel',
  'text_ner',
];
const DATA_KEYS = ['training_data', 'validation_data', 'test_data'];
const KEYS = [
  'type',
  'task',
  'name',
  'display_name',
  'tags',
  'properties',
  'compute',
  'outputs',
  'log_verbosity',
  'primary_metric',
  'target_column_name',
  ...DATA_KEYS,
  'validation_data_size',
  'n_cross_validations',
  'cv_split_column_names',
  'weight_column_name',
  'test_data_size',
  'limits',
  'featurization',
  'training',
];
const SECTIONS: Record<string, string[]> = {
  limits: [
    'enable_early_termination',
    'exit_score',
    'max_concurrent_trials',
    'max_cores_per_trial',
    'max_nodes',
    'max_trials',
    'timeout_minutes',
    'trial_timeout_minutes',
  ],
  featurization: [
    'mode',
    'blocked_transformers',
    'column_name_and_types',
    'dataset_language',
    'transformer_params',
    'enable_dnn_featurization',
  ],
  training: [
    'enable_dnn_training',
    'enable_model_explainability',
    'enable_onnx_compatible_models',
    'enable_stack_ensemble',
    'enable_vote_ensemble',
    'ensemble_model_download_timeout_minutes',
    'stack_ensemble_settings',
    'allowed_training_algorithms',
    'blocked_training_algorithms',
    'training_mode',
  ],
  forecasting: [
    'time_column_name',
    'forecast_horizon',
    'target_lags',
    'target_rolling_window_size',
    'frequency',
    'country_or_region_for_holidays',
    'time_series_id_column_names',
    'seasonality',
    'short_series_handling_config',
    'target_aggregate_function',
    'use_stl',
    'cv_step_size',
    'feature_lags',
  ],
};

export function automlNode(env: NodeEnv, name: string, at: YamlPath, r: JsonObject): NodeBuild {
  const doc: LoadedYaml = env.io.doc;
  const task = r.task;
  if (typeof task !== 'string' || !TASKS.includes(task)) {
    const other = typeof task === 'string' && OTHER_TASKS.includes(task);
    doc.fail(
      [...at, 'task'],
      task === undefined ? msg('ProblemIsMissing') : msg('ProblemIsValue', JSON.stringify(task)),
      other ? msg('FixAutomlOtherTask', task) : msg('FixUseOneOf', TASKS.join(', ')),
    );
  }
  const known = [...KEYS, ...(task === 'classification' ? ['positive_label'] : []), ...(task === 'forecasting' ? ['forecasting'] : [])];
  checkKeys(doc, at, r, known, msg('ProblemNotSupportedInAutomlStep', task), STEP_HINTS);
  if (r.training_data === undefined || r.training_data === null)
    doc.fail(at, msg('ProblemAutomlWithoutTrainingData'), msg('FixAutomlData', 'training_data'));
  if (typeof r.target_column_name !== 'string')
    doc.fail([...at, 'target_column_name'], msg('ProblemIsMissing'), msg('FixAutomlTargetColumn'));
  const ports: StepPorts = {
    inputs: {},
    outputs: {},
    bindings: [],
    outputTypes: new Map(),
    inlineInputs: [],
    inlineOutputs: {},
    knownOutputs: new Map(),
  };
  const body: TemplateObject = {};
  if (!env.inComponent) body.name = name;
  body.tags = stringMap(doc, [...at, 'tags'], r.tags) ?? {};
  body.properties = stringMap(doc, [...at, 'properties'], r.properties) ?? {};
  body.type = 'automl';
  const dn = text(doc, [...at, 'display_name'], r.display_name);
  if (dn !== undefined) body.display_name = dn;
  for (const k of DATA_KEYS) {
    const v = r[k];
    if (v === undefined || v === null) continue;
    // The SDK sends the binding text; data written in place must first be a pipeline input.
    if (typeof v !== 'string' || !isWholeBinding(v)) doc.fail([...at, k], msg('ProblemAutomlDataNotBinding'), msg('FixAutomlData', k));
    const b = findBindings(v)[0]!;
    if (b.kind !== 'parentInput' && b.kind !== 'jobOutput')
      doc.fail([...at, k], msg('ProblemAutomlDataNotBinding'), msg('FixAutomlData', k));
    ports.bindings.push({ at: [...at, k], b });
    body[k] = v.trim();
  }
  for (const [section, keys] of Object.entries(SECTIONS)) {
    const v = r[section];
    if (v === undefined || v === null) continue;
    if (!isObj(v)) doc.fail([...at, section], msg('ProblemMustBeMapping'), msg('FixUseKeys', keys.join(', ')));
    checkKeys(doc, [...at, section], v, keys, msg('ProblemNotSupportedInAutomlSection', section));
    body[section] = v;
  }
  for (const k of [
    'primary_metric',
    'target_column_name',
    'validation_data_size',
    'n_cross_validations',
    'cv_split_column_names',
    'weight_column_name',
    'test_data_size',
    'positive_label',
  ]) {
    if (r[k] !== undefined && r[k] !== null) body[k] = r[k]!;
  }
  body.task = task;
  body.log_verbosity = text(doc, [...at, 'log_verbosity'], r.log_verbosity) ?? 'info';
  const outputs: Record<string, TemplateObject> = {};
  if (r.outputs !== undefined && r.outputs !== null) {
    if (!isObj(r.outputs)) doc.fail([...at, 'outputs'], msg('ProblemStepOutputsNotMapping'), msg('FixStepOutputsMapping'));
    for (const [k, v] of Object.entries(r.outputs)) {
      const o = stepOutput(env.io, [...at, 'outputs', k], v, undefined, env.pOut);
      if (o) outputs[k] = o.rest;
      const type = isObj(v) && typeof v.type === 'string' ? v.type : 'mlflow_model';
      ports.knownOutputs!.set(k, { type });
      ports.outputTypes.set(k, type);
    }
  }
  // best_model is always there; a downstream step may bind it without declaring it here.
  if (!ports.knownOutputs!.has('best_model')) {
    ports.knownOutputs!.set('best_model', { type: 'mlflow_model' });
    ports.outputTypes.set('best_model', 'mlflow_model');
  }
  if (Object.keys(outputs).length) body.outputs = outputs;
  const compute = computeValue(env.ctx, doc, [...at, 'compute'], r.compute, true);
  if (compute !== undefined) body.computeId = compute;
  return { name, at, type: 'automl', body, ports, hasCompute: compute !== undefined };
}
