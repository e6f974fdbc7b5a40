/**
 * The steps of a pipeline (a pipeline job's `jobs:`, or a pipeline component's): each step
 * translated, every binding checked against the pipeline's inputs and the other steps' outputs,
 * cycles refused, and inline steps' input types inferred from the sources they are bound to.
 * A pipeline component file is translated the same way into its spec.
 */
import { isObj, type LoadedYaml, type YamlPath } from '../common/yaml';
import type { SpecBuilder } from './component';
import { pipelineInputs, pipelineOutputs, type Binding, type IoContext, type PipelinePortInfo } from './io';
import { msg } from './messages';
import type { TemplateObject } from './plan';
import { inlineInputDefs, translateNode, type NodeBuild, type NodeEnv } from './nodes';
import type { Ctx } from './refs';

function validateBindings(doc: LoadedYaml, builds: NodeBuild[], pIn: Map<string, PipelinePortInfo>, base: YamlPath): void {
  const byName = new Map(builds.map((b) => [b.name, b]));
  const edges = new Map<string, Set<string>>();
  for (const b of builds) {
    const deps = new Set<string>();
    for (const { at, b: bind } of b.ports.bindings) {
      if (bind.kind === 'parentInput') {
        if (!pIn.has(bind.name))
          doc.fail(
            at,
            msg('ProblemNoSuchPipelineInput', bind.text, bind.name),
            pIn.size ? msg('FixDeclaredInputs', [...pIn.keys()].join(', ')) : msg('FixAddTopLevelInput'),
          );
      } else if (bind.kind === 'jobOutput') {
        if (bind.job === b.name) doc.fail(at, msg('ProblemBindsToOwnOutput', bind.text), msg('FixCannotReadOwnOutput'));
        const src = byName.get(bind.job);
        if (!src) doc.fail(at, msg('ProblemNoSuchStep', bind.text, bind.job), msg('FixStepsAre', [...byName.keys()].join(', ')));
        const known = src.ports.knownOutputs;
        if (known && !known.has(bind.name)) {
          doc.fail(
            at,
            msg('ProblemNoSuchStepOutput', bind.text, bind.job, bind.name),
            known.size ? msg('FixItsOutputsAre', [...known.keys()].join(', ')) : msg('FixDeclareOutputOnStep', bind.job),
          );
        }
        deps.add(bind.job);
      }
    }
    edges.set(b.name, deps);
  }
  const state = new Map<string, 1 | 2>();
  const visit = (n: string, trail: string[]): void => {
    if (state.get(n) === 2) return;
    if (state.get(n) === 1) {
      const cycle = [...trail.slice(trail.indexOf(n)), n];
      doc.fail([...base, n], msg('ProblemBindingCycle', cycle.join(' -> ')), msg('FixBreakCycle'));
    }
    state.set(n, 1);
    for (const m of edges.get(n) ?? []) visit(m, [...trail, n]);
    state.set(n, 2);
  };
  for (const b of builds) visit(b.name, []);
}

/** The type (and mode) of a binding's source, as the SDK infers an inline component's input. */
function sourceType(b: Binding, builds: NodeBuild[], pIn: Map<string, PipelinePortInfo>): { type: string; mode?: string } {
  if (b.kind === 'parentInput') {
    const i = pIn.get(b.name);
    return i ? { type: i.type, ...(i.mode ? { mode: i.mode } : {}) } : { type: 'uri_folder' };
  }
  if (b.kind === 'jobOutput') return { type: builds.find((s) => s.name === b.job)?.ports.outputTypes.get(b.name) ?? 'uri_folder' };
  return { type: 'string' };
}

/** Inline steps' input definitions, placed where the SDK's component dict has them (before outputs). */
function finishInline(b: NodeBuild, builds: NodeBuild[], pIn: Map<string, PipelinePortInfo>): void {
  if (!b.inlineSpec) return;
  const defs = inlineInputDefs(b.ports.inlineInputs, (bind) => sourceType(bind, builds, pIn));
  if (Object.keys(defs).length === 0) return;
  const spec = b.inlineSpec.spec;
  const entries = Object.entries(spec);
  for (const k of Object.keys(spec)) delete spec[k];
  let placed = false;
  for (const [k, v] of entries) {
    if (!placed && (k === 'outputs' || k === 'type')) {
      spec.inputs = defs;
      placed = true;
    }
    spec[k] = v;
  }
  if (!placed) spec.inputs = defs;
}

export interface Graph {
  jobs: TemplateObject;
  builds: NodeBuild[];
}

/**
 * Translate `jobs:` at `['jobs']` of `doc`. `requireCompute`: a step without compute fails
 * unless the pipeline has a default (a pipeline component's steps take the parent's).
 */
export function translateGraph(env: NodeEnv, raw: unknown, pIn: Map<string, PipelinePortInfo>, requireCompute: boolean): Graph {
  const doc: LoadedYaml = env.io.doc;
  if (raw === undefined || raw === null) doc.fail(['jobs'], msg('ProblemIsMissing'), msg('FixJobsNeedsStep'));
  if (!isObj(raw as never)) doc.fail(['jobs'], msg('ProblemJobsNotMapping'), msg('FixJobsMapping'));
  const names = Object.keys(raw as object);
  if (names.length === 0) doc.fail(['jobs'], msg('ProblemNoSteps'), msg('FixAddStep'));
  const builds = names.map((n) => translateNode(env, n, (raw as Record<string, unknown>)[n]));
  validateBindings(doc, builds, pIn, ['jobs']);
  for (const b of builds) finishInline(b, builds, pIn);
  if (requireCompute)
    for (const b of builds) if (!b.hasCompute) doc.fail(['jobs', b.name], msg('ProblemStepNoCompute'), msg('FixAddStepCompute'));
  const jobs: TemplateObject = {};
  for (const b of builds) jobs[b.name] = b.body;
  return { jobs, builds };
}

/**
 * A pipeline component file's own parts: its steps (no `name` on each, computes may be bound to
 * the component's inputs), as the SDK's PipelineComponent spec has them.
 */
export function pipelineSpecBuilder(parent: { pipelineSpec?: SpecBuilder }): SpecBuilder {
  const build: SpecBuilder = (ctx: Ctx, doc, base, d, ports) => {
    if (base.length) doc.fail(base, msg('ProblemInlinePipelineComponent'), msg('FixPipelineComponentFile'));
    const io: IoContext = { doc, ctx };
    // The component's inputs and outputs, seen by its steps like a pipeline job's.
    const pIn = new Map<string, PipelinePortInfo>([...ports.inputs].map(([k, v]) => [k, { type: v.type }]));
    const pOut = new Map<string, PipelinePortInfo>([...ports.outputs].map(([k, v]) => [k, { type: v.type }]));
    const env: NodeEnv = { ctx, io, pOut, inComponent: true, pipelineSpec: parent.pipelineSpec ?? build };
    const graph = translateGraph(env, d.jobs, pIn, false);
    const spec: TemplateObject = { jobs: graph.jobs, sourceJobId: null };
    if (d.settings !== undefined && d.settings !== null)
      doc.fail(['settings'], msg('ProblemPipelineComponentSettings'), msg('FixPipelineComponentSettings'));
    return spec;
  };
  return build;
}

export { pipelineInputs, pipelineOutputs };
