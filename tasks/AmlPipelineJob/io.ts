/**
 * Inputs, outputs and `${{...}}` bindings, translated to the REST shapes the CLI (SDK v2) sends.
 *
 * Facts from azure-ai-ml (azure/ai/ml/entities/_job/_input_output_helpers.py, _job/pipeline/_io/mixin.py):
 * - literals become LiteralJobInput(value=str(value)): Python str(), so True -> "True", 1.0 -> "1.0";
 * - a `${{...}}` binding is a literal whose value is the expression (plus `mode` when one is given);
 * - data inputs become {job_input_type: <type>, uri, mode}, modes mapped ro_mount/mount -> ReadOnlyMount,
 *   download -> Download, direct -> Direct, eval_mount -> EvalMount, eval_download -> EvalDownload;
 * - outputs become {job_output_type: <type, default uri_folder>, uri, mode}, modes rw_mount/mount ->
 *   ReadWriteMount, upload -> Upload, direct -> Direct; a step output bound to the pipeline is
 *   {value: '${{parent.outputs.x}}', type: 'literal'};
 * - the pipeline-level inputs/outputs are typed REST models (camelCase: jobInputType, jobOutputType),
 *   while step inputs/outputs sit in the free-form `jobs` object, serialised with as_dict() (snake_case).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { resolveLocal } from '../common/asset-refs';
import type { Json, JsonObject, Template, TemplateObject } from './plan';
import { isObj, type LoadedYaml, type YamlPath } from '../common/yaml';
import { msg } from './messages';
import { originOf, type Ctx } from './refs';

export const DATA_TYPES = ['uri_folder', 'uri_file', 'mltable', 'custom_model', 'mlflow_model', 'triton_model'] as const;
export const PARAM_TYPES = ['integer', 'number', 'boolean', 'string'] as const;

const INPUT_MODES: Record<string, string> = {
  mount: 'ReadOnlyMount',
  ro_mount: 'ReadOnlyMount',
  download: 'Download',
  direct: 'Direct',
  eval_mount: 'EvalMount',
  eval_download: 'EvalDownload',
};
const OUTPUT_MODES: Record<string, string> = {
  mount: 'ReadWriteMount',
  rw_mount: 'ReadWriteMount',
  upload: 'Upload',
  direct: 'Direct',
};

export { pyFloatRepr, pyStr, pyType } from '../common/pyrepr';
import { pyStr, pyType } from '../common/pyrepr';

// ---------------------------------------------------------------------------------------------
// Bindings

export type Binding =
  | { kind: 'parentInput'; name: string; text: string }
  | { kind: 'parentOutput'; name: string; text: string }
  | { kind: 'jobOutput'; job: string; name: string; text: string }
  | { kind: 'runtime'; text: string }
  | { kind: 'legacy'; text: string; suggestion: string }
  | { kind: 'unknown'; text: string };

const EXPR = /\$\{\{\s*([^{}]*?)\s*\}\}/g;

export function findBindings(s: string): Binding[] {
  const out: Binding[] = [];
  for (const m of s.matchAll(EXPR)) {
    const text = m[0];
    const expr = m[1]!;
    let r: RegExpExecArray | null;
    if ((r = /^parent\.inputs\.([A-Za-z0-9_.]+)$/.exec(expr))) out.push({ kind: 'parentInput', name: r[1]!, text });
    else if ((r = /^parent\.outputs\.([A-Za-z0-9_]+)$/.exec(expr))) out.push({ kind: 'parentOutput', name: r[1]!, text });
    else if ((r = /^parent\.jobs\.([A-Za-z0-9_]+)\.outputs\.([A-Za-z0-9_]+)$/.exec(expr)))
      out.push({ kind: 'jobOutput', job: r[1]!, name: r[2]!, text });
    else if (/^(name|output_name|default_datastore)$/.test(expr)) out.push({ kind: 'runtime', text });
    else if ((r = /^(inputs|outputs)\.([A-Za-z0-9_.]+)$/.exec(expr)))
      out.push({ kind: 'legacy', text, suggestion: `\${{parent.${r[1]}.${r[2]}}}` });
    else if ((r = /^jobs\.([A-Za-z0-9_]+)\.(inputs|outputs)\.([A-Za-z0-9_]+)$/.exec(expr)))
      out.push({ kind: 'legacy', text, suggestion: `\${{parent.jobs.${r[1]}.${r[2]}.${r[3]}}}` });
    else out.push({ kind: 'unknown', text });
  }
  return out;
}

export function isWholeBinding(s: string): boolean {
  const t = s.trim();
  const all = [...t.matchAll(EXPR)];
  return all.length === 1 && all[0]![0] === t;
}

// ---------------------------------------------------------------------------------------------
// Paths

type PathKind =
  | { kind: 'uri'; uri: string }
  | { kind: 'asset'; ref: string; name: string; version?: string; label?: 'latest' }
  | { kind: 'binding'; text: string }
  | { kind: 'local'; path: string };

const URL_SCHEMES = /^(https?|wasbs?|abfss?|adl|azureml):\/\//i;

export function classifyPath(p: string): PathKind {
  const t = p.trim();
  if (t.includes('${{') && isWholeBinding(t)) return { kind: 'binding', text: t };
  if (URL_SCHEMES.test(t)) return { kind: 'uri', uri: t };
  if (/^azureml:\/subscriptions\//i.test(t)) return { kind: 'uri', uri: t };
  let m: RegExpExecArray | null;
  if ((m = /^azureml:([A-Za-z0-9][A-Za-z0-9._-]*)@(latest)$/.exec(t))) return { kind: 'asset', ref: t, name: m[1]!, label: 'latest' };
  if ((m = /^azureml:([A-Za-z0-9][A-Za-z0-9._-]*):([A-Za-z0-9][A-Za-z0-9._-]*)$/.exec(t)))
    return { kind: 'asset', ref: t, name: m[1]!, version: m[2]! };
  return { kind: 'local', path: t };
}

// ---------------------------------------------------------------------------------------------
// Shared translation state

/** A pipeline-level input or output, as a step bound to it sees it. */
export interface PipelinePortInfo {
  /** The data type; for a literal input, its Python type (integer, number, boolean or string). */
  type: string;
  /** The mode as written in the YAML (e.g. ro_mount), if any. */
  mode?: string;
}

export interface IoContext {
  doc: LoadedYaml;
  ctx: Ctx;
}

/** `problem` says where the key is not supported, e.g. "is not supported by AmlPipelineJob@1 in a step output". */
function checkKeys(doc: LoadedYaml, at: YamlPath, o: JsonObject, allowed: readonly string[], problem: string): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) doc.fail([...at, k], problem, msg('FixUseOnlyKeys', allowed.join(', ')));
  }
}

/** The REST name of a mode as written, from `modes` (INPUT_MODES or OUTPUT_MODES); `problem` words a wrong one. */
function restMode(
  doc: LoadedYaml,
  at: YamlPath,
  mode: Json | undefined,
  modes: Record<string, string>,
  problem: (written: string) => string,
): string | undefined {
  if (mode === undefined || mode === null) return undefined;
  if (typeof mode !== 'string' || !(mode.toLowerCase() in modes)) {
    doc.fail(at, problem(String(mode)), msg('FixUseOneOf', Object.keys(modes).join(', ')));
  }
  return modes[mode.toLowerCase()];
}

const inputMode = (doc: LoadedYaml, at: YamlPath, mode: Json | undefined) =>
  restMode(doc, at, mode, INPUT_MODES, (m) => msg('ProblemNotInputMode', m));
const outputMode = (doc: LoadedYaml, at: YamlPath, mode: Json | undefined) =>
  restMode(doc, at, mode, OUTPUT_MODES, (m) => msg('ProblemNotOutputMode', m));

function dataType(doc: LoadedYaml, at: YamlPath, t: Json | undefined): string {
  if (t === undefined || t === null) return 'uri_folder';
  if (t === 'path') doc.fail(at, msg('ProblemOldPathType'), msg('FixWriteUriFolder'));
  if (typeof t !== 'string' || !(DATA_TYPES as readonly string[]).includes(t)) {
    doc.fail(at, msg('ProblemNotDataType', String(t)), msg('FixUseOneOf', DATA_TYPES.join(', ')));
  }
  return t;
}

const MODEL_TYPES = ['custom_model', 'mlflow_model', 'triton_model'];

/**
 * Local data (a path relative to the YAML): confined to the repository, checked against its
 * type, and uploaded under LocalUpload/<hash>/ on the default datastore before submission, as
 * `az ml job create` does.
 */
function localData(io: IoContext, at: YamlPath, written: string, type: string): Template {
  const abs = resolveLocal(io.doc, at, written, io.ctx.root, msg('LocalDataNoun'));
  const isDir = fs.statSync(abs).isDirectory();
  if (type === 'uri_file' && isDir) io.doc.fail(at, msg('ProblemUriFileIsFolder', written), msg('FixUriFileIsFolder'));
  if (type !== 'uri_file' && !isDir && !MODEL_TYPES.includes(type))
    io.doc.fail(at, msg('ProblemFolderTypeIsFile', written, type), msg('FixFolderTypeIsFile'));
  if (type === 'mltable' && !fs.existsSync(path.join(abs, 'MLTable')))
    io.doc.fail(at, msg('ProblemNoMlTableFile', written), msg('FixNoMlTableFile'));
  return io.ctx.refs.slot({ kind: 'data', path: abs, dataType: type, datastore: 'workspaceblobstore', origin: originOf(io.doc, at) });
}

function resolveDataPath(
  io: IoContext,
  at: YamlPath,
  p: Json | undefined,
  type: string,
  isPipeline: boolean,
): { uri?: Template; binding?: string } {
  if (typeof p !== 'string' || p.trim() === '') io.doc.fail(at, msg('ProblemMustBeDataPath'), msg('FixSetDataPath'));
  const k = classifyPath(p);
  switch (k.kind) {
    case 'uri':
      checkRuntimeExpressions(io.doc, at, k.uri);
      return { uri: k.uri };
    case 'binding':
      if (isPipeline) io.doc.fail(at, msg('ProblemBindingInPipelineInput'), msg('FixGiveDatastorePathOrAsset'));
      return { binding: k.text };
    case 'asset': {
      const origin = originOf(io.doc, at);
      const ref = {
        kind: 'named' as const,
        name: k.name,
        ...(k.version !== undefined ? { version: k.version } : { label: 'latest' as const }),
        origin,
      };
      return { uri: io.ctx.refs.asset(MODEL_TYPES.includes(type) ? 'models' : 'data', ref) };
    }
    case 'local':
      return { uri: localData(io, at, k.path, type) };
  }
}

function checkRuntimeExpressions(doc: LoadedYaml, at: YamlPath, s: string): void {
  for (const b of findBindings(s)) {
    if (b.kind !== 'runtime') doc.fail(at, msg('ProblemBindingInPath', b.text), msg('FixOnlyRuntimeExpressionsInPath'));
  }
}

// ---------------------------------------------------------------------------------------------
// Pipeline level (camelCase REST models)

/** Translate `inputs:` of the pipeline job. */
export function pipelineInputs(
  ctx: IoContext,
  raw: Json | undefined,
): { rest: Record<string, TemplateObject>; info: Map<string, PipelinePortInfo> } {
  const doc: LoadedYaml = ctx.doc;
  const rest: Record<string, TemplateObject> = {};
  const info = new Map<string, PipelinePortInfo>();
  if (raw === undefined || raw === null) return { rest, info };
  if (!isObj(raw)) doc.fail(['inputs'], msg('ProblemInputsNotMapping'), msg('FixPipelineInputsMapping'));
  for (const [name, v] of Object.entries(raw)) {
    const at = ['inputs', name];
    checkIoName(doc, at, name, true);
    if (v === null || v === '') {
      doc.fail(at, msg('ProblemPipelineInputNoValue'), msg('FixGivePipelineInputValue'));
    }
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') {
      if (typeof v === 'string') checkLiteralBindings(doc, at, v, true);
      const src = doc.sourceOf(at);
      rest[name] = { jobInputType: 'literal', value: pyStr(v, src) };
      info.set(name, { type: pyType(v, src) });
      continue;
    }
    if (Array.isArray(v)) doc.fail(at, msg('ProblemListNotJobInput'), msg('FixSingleValueOrMapping'));
    const o = v as JsonObject;
    if ('value' in o && !('path' in o)) {
      // A literal written as a mapping ({value: 1000, type: integer}): the SDK's Input(value=...), sent as text.
      checkKeys(
        doc,
        at,
        o,
        ['type', 'value', 'description', 'optional', 'min', 'max', 'enum'],
        msg('ProblemNotSupportedInPipelineDataInput'),
      );
      const lit = o.value;
      if (typeof lit !== 'string' && typeof lit !== 'number' && typeof lit !== 'boolean')
        doc.fail([...at, 'value'], msg('ProblemPipelineInputNoValue'), msg('FixGivePipelineInputValue'));
      if (typeof lit === 'string') checkLiteralBindings(doc, [...at, 'value'], lit, true);
      const src = doc.sourceOf([...at, 'value']);
      rest[name] = { jobInputType: 'literal', value: pyStr(lit, src) };
      info.set(name, {
        type: typeof o.type === 'string' && (PARAM_TYPES as readonly string[]).includes(o.type) ? o.type : pyType(lit, src),
      });
      continue;
    }
    checkKeys(doc, at, o, ['type', 'path', 'mode', 'description'], msg('ProblemNotSupportedInPipelineDataInput'));
    const type = dataType(doc, [...at, 'type'], o.type);
    if (o.path === undefined || o.path === null) doc.fail(at, msg('ProblemDataInputWithoutPath'), msg('FixAddPipelineInputPath'));
    const { uri } = resolveDataPath(ctx, [...at, 'path'], o.path, type, true);
    const mode = inputMode(doc, [...at, 'mode'], o.mode);
    const r: TemplateObject = { jobInputType: type, uri: uri! };
    if (mode) r.mode = mode;
    if (o.description !== undefined) r.description = str(doc, [...at, 'description'], o.description);
    rest[name] = r;
    info.set(name, { type, ...(typeof o.mode === 'string' ? { mode: o.mode } : {}) });
  }
  return { rest, info };
}

/** Translate `outputs:` of the pipeline job. */
export function pipelineOutputs(
  ctx: IoContext,
  raw: Json | undefined,
): { rest: Record<string, TemplateObject>; info: Map<string, PipelinePortInfo> } {
  const doc: LoadedYaml = ctx.doc;
  const rest: Record<string, TemplateObject> = {};
  const info = new Map<string, PipelinePortInfo>();
  if (raw === undefined || raw === null) return { rest, info };
  if (!isObj(raw)) doc.fail(['outputs'], msg('ProblemPipelineOutputsNotMapping'), msg('FixPipelineOutputsMapping'));
  for (const [name, v] of Object.entries(raw)) {
    const at = ['outputs', name];
    checkIoName(doc, at, name, false);
    if (v === null) {
      rest[name] = { jobOutputType: 'uri_folder' };
      info.set(name, { type: 'uri_folder' });
      continue;
    }
    if (!isObj(v)) doc.fail(at, msg('ProblemPipelineOutputNotMapping'), msg('FixForExampleModeUpload'));
    checkKeys(doc, at, v, ['type', 'mode', 'path', 'description'], msg('ProblemNotSupportedInPipelineOutput'));
    const type = dataType(doc, [...at, 'type'], v.type);
    const r: TemplateObject = { jobOutputType: type };
    const mode = outputMode(doc, [...at, 'mode'], v.mode);
    if (mode) r.mode = mode;
    if (v.path !== undefined && v.path !== null) r.uri = outputUri(doc, [...at, 'path'], v.path);
    if (v.description !== undefined) r.description = str(doc, [...at, 'description'], v.description);
    rest[name] = r;
    info.set(name, { type, ...(typeof v.mode === 'string' ? { mode: v.mode } : {}) });
  }
  return { rest, info };
}

function outputUri(doc: LoadedYaml, at: YamlPath, p: Json): string {
  if (typeof p !== 'string') doc.fail(at, msg('ProblemMustBePathString'), msg('FixUseDatastorePath'));
  const k = classifyPath(p);
  if (k.kind !== 'uri') {
    doc.fail(at, msg('ProblemNotStorageUri', p), msg('FixOutputsWrittenToDatastore'));
  }
  checkRuntimeExpressions(doc, at, k.uri);
  return k.uri;
}

function checkIoName(doc: LoadedYaml, at: YamlPath, name: string, allowDots: boolean): void {
  const re = allowDots ? /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/ : /^[A-Za-z_][A-Za-z0-9_]*$/;
  if (!re.test(name)) doc.fail(at, msg('ProblemInvalidIoName'), msg('FixNameCharacters'));
}

function str(doc: LoadedYaml, at: YamlPath, v: Json): string {
  if (typeof v !== 'string') doc.fail(at, msg('ProblemMustBeTextNot', JSON.stringify(v)), msg('FixQuoteTheValue'));
  return v;
}

/** Validate every ${{...}} in a literal string; returns the bindings found. */
function checkLiteralBindings(doc: LoadedYaml, at: YamlPath, s: string, isPipeline: boolean): Binding[] {
  const bs = findBindings(s);
  for (const b of bs) {
    if (b.kind === 'legacy') doc.fail(at, msg('ProblemOldBinding', b.text), msg('FixWriteBinding', b.suggestion));
    if (b.kind === 'unknown') doc.fail(at, msg('ProblemUnknownBinding', b.text), msg('FixBindWithParent'));
    if (isPipeline && b.kind !== 'runtime') doc.fail(at, msg('ProblemBindingInPipelineLiteral', b.text), msg('FixGivePlainValue'));
    if (b.kind === 'parentOutput') doc.fail(at, msg('ProblemInputBoundToPipelineOutput', b.text), msg('FixBindInputsTo'));
  }
  return bs;
}

// ---------------------------------------------------------------------------------------------
// Step level (snake_case dicts inside `jobs`)

/** What the step's component declares, when the component is local. */
export interface PortDef {
  type: string;
  optional?: boolean;
  hasDefault?: boolean;
}

interface StepInputResult {
  rest: TemplateObject;
  /** For inferring an inline component's input definition. */
  def: JsonObject;
  bindings: Binding[];
}

/** Translate one step input value. `meta` is the component's definition when known. */
export function stepInput(ctx: IoContext, at: YamlPath, v: Json, meta: PortDef | undefined): StepInputResult | undefined {
  const doc: LoadedYaml = ctx.doc;
  if (v === null) return undefined;
  const metaIsData = meta !== undefined && !(PARAM_TYPES as readonly string[]).includes(meta.type);
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') {
    if (typeof v === 'string' && metaIsData && !v.includes('${{')) {
      // A plain string given to a data input is a path, as the SDK reads it.
      const { uri } = resolveDataPath(ctx, at, v, meta!.type === 'path' ? 'uri_folder' : meta!.type, false);
      const type = meta!.type === 'path' ? 'uri_folder' : meta!.type;
      return { rest: { job_input_type: type, uri: uri! }, def: { type }, bindings: [] };
    }
    const bindings = typeof v === 'string' ? checkLiteralBindings(doc, at, v, false) : [];
    const src = doc.sourceOf(at);
    return {
      rest: { job_input_type: 'literal', value: pyStr(v, src) },
      def: bindings.length && typeof v === 'string' && isWholeBinding(v) ? {} : { type: pyType(v, src), default: pyStr(v, src) },
      bindings,
    };
  }
  if (Array.isArray(v)) doc.fail(at, msg('ProblemListNotStepInput'), msg('FixValueBindingOrMapping'));
  const o = v as JsonObject;
  checkKeys(doc, at, o, ['type', 'path', 'mode', 'description'], msg('ProblemNotSupportedInStepDataInput'));
  if (o.path === undefined || o.path === null) doc.fail(at, msg('ProblemDataInputWithoutPath'), msg('FixAddStepInputPath'));
  const mode = inputMode(doc, [...at, 'mode'], o.mode);
  if (typeof o.path === 'string' && isWholeBinding(o.path)) {
    const bindings = checkLiteralBindings(doc, [...at, 'path'], o.path, false);
    const def: JsonObject = {};
    if (o.type !== undefined && o.type !== null) def.type = dataType(doc, [...at, 'type'], o.type);
    if (typeof o.mode === 'string') def.mode = o.mode;
    const rest: TemplateObject = { job_input_type: 'literal', value: o.path.trim() };
    if (mode) rest.mode = mode;
    return { rest, def, bindings };
  }
  const type = dataType(doc, [...at, 'type'], o.type ?? (meta && metaIsData && meta.type !== 'path' ? meta.type : undefined));
  const { uri } = resolveDataPath(ctx, [...at, 'path'], o.path, type, false);
  const rest: TemplateObject = { job_input_type: type, uri: uri! };
  if (mode) rest.mode = mode;
  const def: JsonObject = { type };
  if (typeof o.mode === 'string') def.mode = o.mode;
  return { rest, def, bindings: [] };
}

interface StepOutputResult {
  rest: TemplateObject;
  def: JsonObject;
  binding?: Binding;
}

/** Translate one step output value. `metaType` is the component's declared type when known. */
export function stepOutput(
  ctx: IoContext,
  at: YamlPath,
  v: Json,
  metaType: string | undefined,
  pipelineOutputs: Map<string, PipelinePortInfo>,
): StepOutputResult | undefined {
  const doc: LoadedYaml = ctx.doc;
  if (v === null) return undefined;
  const bindTo = (text: string, extra: JsonObject): StepOutputResult => {
    const bs = findBindings(text);
    const b = bs[0];
    if (!b || bs.length !== 1 || !isWholeBinding(text)) doc.fail(at, msg('ProblemNotOutputBinding', text), msg('FixWriteOutputBinding'));
    if (b.kind === 'legacy') doc.fail(at, msg('ProblemOldBinding', b.text), msg('FixWriteBinding', b.suggestion));
    if (b.kind !== 'parentOutput') doc.fail(at, msg('ProblemOutputBoundTo', b.text), msg('FixStepOutputBindsToParent'));
    const target = pipelineOutputs.get(b.name);
    if (!target) {
      doc.fail(
        at,
        msg('ProblemUndeclaredPipelineOutput', b.name),
        pipelineOutputs.size ? msg('FixAddTopLevelOutputDeclared', [...pipelineOutputs.keys()].join(', ')) : msg('FixAddTopLevelOutput'),
      );
    }
    const def: JsonObject = { type: target.type };
    if (target.mode) def.mode = target.mode;
    return { rest: { value: text.trim(), type: 'literal', ...extra }, def, binding: b };
  };
  if (typeof v === 'string') return bindTo(v, {});
  if (!isObj(v)) doc.fail(at, msg('ProblemNotStepOutput', JSON.stringify(v)), msg('FixStepOutputForms'));
  checkKeys(doc, at, v, ['type', 'mode', 'path', 'description'], msg('ProblemNotSupportedInStepOutput'));
  const mode = outputMode(doc, [...at, 'mode'], v.mode);
  if (typeof v.path === 'string' && isWholeBinding(v.path)) {
    return bindTo(v.path, mode ? { mode } : {});
  }
  const type = dataType(doc, [...at, 'type'], v.type);
  const rest: TemplateObject = { job_output_type: metaType === 'uri_file' && v.type === undefined ? 'uri_file' : type };
  if (mode) rest.mode = mode;
  if (v.path !== undefined && v.path !== null) rest.uri = outputUri(doc, [...at, 'path'], v.path);
  if (v.description !== undefined) rest.description = str(doc, [...at, 'description'], v.description);
  const def: JsonObject = { type };
  if (typeof v.mode === 'string') def.mode = v.mode;
  return { rest, def };
}
