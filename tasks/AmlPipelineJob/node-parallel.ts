/**
 * Parallel (batch) steps: the task and its entry script, mini-batch size, partition keys,
 * retry settings, error thresholds and `input_data`, as the SDK's Parallel node and
 * ParallelComponent send them. An inline parallel step is its own anonymous component (display
 * name = the step's name), with its settings both on the node and in the component.
 */
import { pyJsonDumps } from '../common/pyrepr';
import { isObj, type LoadedYaml, type YamlPath } from '../common/yaml';
import { checkCommand, codeSlot, environmentSlot, PARALLEL_SETTING_KEYS, type SpecBuilder } from './component';
import { resources } from './fields';
import { checkKeys, mapping, refuseUnknown, stringMap, text, wholeNumber } from '../common/yaml-fields';
import { msg } from './messages';
import type { Json, JsonObject, Template, TemplateObject } from './plan';
import { BASE_KEYS, STEP_HINTS } from './fields';
import { baseNode, componentStep, type NodeBuild, type NodeEnv } from './nodes';
import { stepPorts, type StepPorts } from './ports';
import { originOf, type Ctx } from './refs';

const TASK_KEYS = ['type', 'code', 'entry_script', 'program_arguments', 'environment', 'append_row_to'];
const LOGGING_LEVELS = ['DEBUG', 'INFO', 'WARNING', 'ERROR', 'CRITICAL'];

/** "10kb" -> 10240, as the SDK's parse of mini_batch_size (a count of files, or a size for tabular data). */
function miniBatchSize(doc: LoadedYaml, at: YamlPath, v: Json): number {
  const m = /^\s*(\d+)\s*(kb|mb|gb)?\s*$/i.exec(String(v));
  if (!m || (typeof v !== 'string' && typeof v !== 'number'))
    doc.fail(at, msg('ProblemIsValue', JSON.stringify(v)), msg('FixMiniBatchSize'));
  const units: Record<string, number> = { kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };
  return Number(m[1]) * (m[2] ? units[m[2].toLowerCase()]! : 1);
}

/** The parallel settings a node or component has, checked; `spec` writes mini_batch_size as text, as the component does. */
function settings(
  ctx: Ctx,
  doc: LoadedYaml,
  at: YamlPath,
  d: JsonObject,
  ports: { inputs: ReadonlySet<string>; outputs: ReadonlySet<string> },
  spec: boolean,
): TemplateObject {
  const out: TemplateObject = {};
  if (d.task !== undefined && d.task !== null) {
    const t = mapping(doc, [...at, 'task'], d.task, msg('FixParallelTask'))!;
    checkKeys(doc, [...at, 'task'], t, TASK_KEYS, msg('ProblemNotSupportedInParallelTask'));
    if (t.type !== undefined && t.type !== 'run_function')
      doc.fail([...at, 'task', 'type'], msg('ProblemIsValue', JSON.stringify(t.type)), msg('FixUseOneOf', 'run_function'));
    const task: TemplateObject = { type: 'run_function' };
    if (t.code !== undefined && t.code !== null) task.code = codeSlot(ctx, doc, [...at, 'task', 'code'], t.code, 'azureml');
    const entry = text(doc, [...at, 'task', 'entry_script'], t.entry_script);
    if (!entry) doc.fail([...at, 'task', 'entry_script'], msg('ProblemIsMissing'), msg('FixParallelTask'));
    task.entry_script = entry;
    if (t.program_arguments !== undefined && t.program_arguments !== null)
      task.program_arguments = checkCommand(
        doc,
        [...at, 'task', 'program_arguments'],
        t.program_arguments,
        ports.inputs,
        ports.outputs,
      ).trim();
    if (t.append_row_to !== undefined && t.append_row_to !== null)
      task.append_row_to = text(doc, [...at, 'task', 'append_row_to'], t.append_row_to)!;
    task.environment = environmentSlot(ctx, doc, [...at, 'task', 'environment'], t.environment, 'azureml');
    out.task = task;
  }
  const res = resources(doc, [...at, 'resources'], d.resources);
  if (res && Object.keys(res).length) out.resources = res;
  if (d.mini_batch_size !== undefined && d.mini_batch_size !== null) {
    const n = miniBatchSize(doc, [...at, 'mini_batch_size'], d.mini_batch_size);
    out.mini_batch_size = spec ? String(n) : n;
  }
  if (d.partition_keys !== undefined && d.partition_keys !== null) {
    const keys = d.partition_keys;
    if (!Array.isArray(keys) || keys.some((k) => typeof k !== 'string'))
      doc.fail([...at, 'partition_keys'], msg('ProblemPartitionKeys'), msg('FixPartitionKeys'));
    out.partition_keys = pyJsonDumps(keys);
  }
  if (d.retry_settings !== undefined && d.retry_settings !== null) {
    const rs = mapping(doc, [...at, 'retry_settings'], d.retry_settings, msg('FixRetrySettings'))!;
    for (const k of Object.keys(rs))
      if (k !== 'max_retries' && k !== 'timeout')
        refuseUnknown(doc, [...at, 'retry_settings'], k, ['max_retries', 'timeout'], msg('ProblemNotSupportedInRetrySettings'));
    for (const k of ['max_retries', 'timeout']) wholeNumber(doc, [...at, 'retry_settings', k], rs[k]);
    out.retry_settings = rs;
  }
  if (d.input_data !== undefined && d.input_data !== null) {
    const s = text(doc, [...at, 'input_data'], d.input_data)!;
    const m = /^\$\{\{\s*inputs\.([A-Za-z0-9_]+)\s*\}\}$/.exec(s.trim());
    if (!m || !ports.inputs.has(m[1]!))
      doc.fail([...at, 'input_data'], msg('ProblemInputData', s), msg('FixInputData', [...ports.inputs].join(', ')));
    out.input_data = s;
  }
  if (d.logging_level !== undefined && d.logging_level !== null) {
    if (typeof d.logging_level !== 'string' || !LOGGING_LEVELS.includes(d.logging_level.toUpperCase()))
      doc.fail(
        [...at, 'logging_level'],
        msg('ProblemIsValue', JSON.stringify(d.logging_level)),
        msg('FixUseOneOf', LOGGING_LEVELS.join(', ')),
      );
    out.logging_level = d.logging_level;
  }
  for (const k of ['max_concurrency_per_instance', 'mini_batch_error_threshold']) {
    const n = wholeNumber(doc, [...at, k], d[k]);
    if (n !== undefined) out[k] = n;
  }
  const et = wholeNumber(doc, [...at, 'error_threshold'], d.error_threshold, -1);
  if (et !== undefined) out.error_threshold = et;
  const ev = stringMap(doc, [...at, 'environment_variables'], d.environment_variables);
  if (ev && Object.keys(ev).length) out.environment_variables = ev;
  return out;
}

/** A parallel component file's own keys. */
export const parallelSpec: SpecBuilder = (ctx, doc, base, d, ports) => {
  if (d.task === undefined || d.task === null) doc.fail([...base, 'task'], msg('ProblemIsMissing'), msg('FixParallelTask'));
  return settings(ctx, doc, base, d, { inputs: new Set(ports.inputs.keys()), outputs: new Set(ports.outputs.keys()) }, true);
};

const PARALLEL_STEP_KEYS = [...BASE_KEYS, 'component', 'identity', ...PARALLEL_SETTING_KEYS];
const INLINE_PARALLEL_KEYS = [...PARALLEL_STEP_KEYS.filter((k) => k !== 'component'), 'task', 'description', 'is_deterministic'];

export function parallelNode(env: NodeEnv, name: string, at: YamlPath, r: JsonObject): NodeBuild {
  const doc: LoadedYaml = env.io.doc;
  const inline = r.component === undefined || r.component === null;
  checkKeys(doc, at, r, inline ? INLINE_PARALLEL_KEYS : PARALLEL_STEP_KEYS, msg('ProblemNotSupportedInParallelStep'), STEP_HINTS);
  let ports: StepPorts;
  let componentId: Template;
  let source: string;
  let inlineSpec: NodeBuild['inlineSpec'];
  let own: TemplateObject;
  if (inline) {
    if (r.task === undefined || r.task === null) doc.fail(at, msg('ProblemParallelWithoutTask'), msg('FixParallelTask'));
    ports = stepPorts(env.io, at, r, undefined, env.pOut);
    const names = { inputs: new Set(ports.inlineInputs.map((i) => i.name)), outputs: new Set(Object.keys(ports.inlineOutputs)) };
    own = settings(env.ctx, doc, at, r, names, false);
    const spec: TemplateObject = {
      name: 'azureml_anonymous',
      version: '1',
      display_name: name,
      is_deterministic: r.is_deterministic ?? true,
    };
    const desc = text(doc, [...at, 'description'], r.description);
    if (desc !== undefined) spec.description = desc;
    if (Object.keys(ports.inlineOutputs).length) spec.outputs = ports.inlineOutputs;
    spec.type = 'parallel';
    // ParallelComponent has no environment_variables: they stay on the node only.
    const { environment_variables: _ev, ...specSettings } = settings(env.ctx, doc, at, r, names, true);
    Object.assign(spec, specSettings);
    spec._source = 'YAML.JOB';
    componentId = env.ctx.refs.slot({ kind: 'component', spec, origin: originOf(doc, at), label: `${doc.name}: jobs.${name}` });
    inlineSpec = { spec, order: Object.keys(spec) };
    source = 'YAML.JOB';
  } else {
    const step = componentStep(env, at, r, 'parallel');
    ports = step.ports;
    componentId = step.comp.id;
    source = step.comp.source;
    const names = {
      inputs: new Set(step.comp.inputs?.keys() ?? Object.keys(isObj(r.inputs) ? r.inputs : {})),
      outputs: new Set(step.comp.outputs?.keys() ?? []),
    };
    own = settings(env.ctx, doc, at, r, names, false);
  }
  const base = baseNode(env, name, at, r, 'parallel', ports, source, componentId);
  return {
    name,
    at,
    type: 'parallel',
    body: { ...own, ...base.body },
    ports,
    hasCompute: base.hasCompute,
    ...(inlineSpec ? { inlineSpec } : {}),
  };
}
