/**
 * A step's `inputs:` and `outputs:` against what its component declares (when known), in the
 * REST form of a pipeline node, with the bindings to check and, for a step that defines its own
 * component inline, the input and output definitions the SDK infers from them.
 */
import { isObj, type LoadedYaml, type YamlPath } from '../common/yaml';
import { checkIoNames, type LoadedComponent } from './component';
import { findBindings, stepInput, stepOutput, type Binding, type IoContext, type PipelinePortInfo, type PortDef } from './io';
import { msg } from './messages';
import type { Json, JsonObject, TemplateObject } from './plan';

export interface InlineInput {
  name: string;
  at: YamlPath;
  def: JsonObject;
  binding?: Binding;
}

export interface StepPorts {
  inputs: Record<string, TemplateObject>;
  outputs: Record<string, TemplateObject>;
  bindings: Array<{ at: YamlPath; b: Binding }>;
  /** Outputs a later step may bind to, when known (a component's declarations, or what an inline step writes). */
  knownOutputs?: Map<string, PortDef>;
  /** The type a downstream inline step infers from each output. */
  outputTypes: Map<string, string>;
  /** Inline steps: input definitions still to infer from the bound sources. */
  inlineInputs: InlineInput[];
  /** Inline steps: output definitions. */
  inlineOutputs: JsonObject;
}

/** The type of a step output as written in the step, for a downstream inline step. */
function outputType(v: Json, pOut: Map<string, PipelinePortInfo>): string {
  if (typeof v === 'string') {
    const inner = findBindings(v)[0];
    if (inner?.kind === 'parentOutput') return pOut.get(inner.name)?.type ?? 'uri_folder';
  }
  if (isObj(v) && typeof v.type === 'string') return v.type;
  return 'uri_folder';
}

/** `comp` is the step's component when it has one; undefined for an inline step. */
export function stepPorts(
  io: IoContext,
  at: YamlPath,
  raw: JsonObject,
  comp: LoadedComponent | undefined,
  pOut: Map<string, PipelinePortInfo>,
): StepPorts {
  const doc: LoadedYaml = io.doc;
  const rawInputs = raw.inputs ?? {};
  const rawOutputs = raw.outputs ?? {};
  if (!isObj(rawInputs)) doc.fail([...at, 'inputs'], msg('ProblemInputsNotMapping'), msg('FixStepInputsMapping'));
  if (!isObj(rawOutputs)) doc.fail([...at, 'outputs'], msg('ProblemStepOutputsNotMapping'), msg('FixStepOutputsMapping'));
  checkIoNames(doc, [...at, 'inputs'], rawInputs);
  checkIoNames(doc, [...at, 'outputs'], rawOutputs);
  const declared = comp?.inputs;
  if (declared && comp) {
    for (const k of Object.keys(rawInputs)) {
      if (!declared.has(k))
        doc.fail(
          [...at, 'inputs', k],
          msg('ProblemNotComponentInput', comp.label),
          declared.size ? msg('FixItsInputsAre', [...declared.keys()].join(', ')) : msg('FixComponentDeclaresNoInputs'),
        );
    }
    for (const [k, def] of declared) {
      const given = rawInputs[k];
      if ((given === undefined || given === null) && !def.optional && !def.hasDefault)
        doc.fail([...at, 'inputs'], msg('ProblemRequiredInputNotSet', k, comp.label), msg('FixAddRequiredInput', k));
    }
  }
  const ports: StepPorts = { inputs: {}, outputs: {}, bindings: [], outputTypes: new Map(), inlineInputs: [], inlineOutputs: {} };
  for (const [k, v] of Object.entries(rawInputs)) {
    const iat = [...at, 'inputs', k];
    const r = stepInput(io, iat, v, declared?.get(k));
    if (!r) continue;
    ports.inputs[k] = r.rest;
    for (const b of r.bindings) ports.bindings.push({ at: iat, b });
    if (!comp) {
      const whole = r.bindings.find((b) => b.kind === 'parentInput' || b.kind === 'jobOutput');
      ports.inlineInputs.push({ name: k, at: iat, def: r.def, ...(whole && !('type' in r.def) ? { binding: whole } : {}) });
    }
  }
  if (comp?.outputs) {
    for (const k of Object.keys(rawOutputs)) {
      if (!comp.outputs.has(k))
        doc.fail(
          [...at, 'outputs', k],
          msg('ProblemNotComponentOutput', comp.label),
          comp.outputs.size ? msg('FixItsOutputsAre', [...comp.outputs.keys()].join(', ')) : msg('FixComponentDeclaresNoOutputs'),
        );
    }
  }
  const inlineKnown = new Map<string, PortDef>();
  for (const [k, v] of Object.entries(rawOutputs)) {
    const r = stepOutput(io, [...at, 'outputs', k], v, comp?.outputs?.get(k)?.type, pOut);
    const def: JsonObject = r ? (r.def as JsonObject) : { type: 'uri_folder' };
    ports.inlineOutputs[k] = def;
    inlineKnown.set(k, { type: typeof def.type === 'string' ? def.type : 'uri_folder' });
    if (r) ports.outputs[k] = r.rest;
  }
  if (comp) {
    if (comp.outputs) {
      ports.knownOutputs = comp.outputs;
      for (const [k, d] of comp.outputs) ports.outputTypes.set(k, d.type);
    }
  } else {
    ports.knownOutputs = inlineKnown;
    for (const [k, v] of Object.entries(rawOutputs)) ports.outputTypes.set(k, outputType(v, pOut));
  }
  return ports;
}
