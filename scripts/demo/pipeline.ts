/**
 * Compiling the pipeline as Azure DevOps does before a run: azure-pipelines.yml is expanded through
 * its extends template and the stage template with testkit/yaml-pipeline's expander (parameters bound
 * to the templates' typed declarations, with the service's messages), then validated against the
 * vendored official schema (testkit/reference), like the template tests do.
 *
 * `--parameters <file.yml|json>` replaces the `extends: parameters:` block of the pipeline (or, for
 * a pipeline with its own `parameters:` declarations, gives the runtime parameters). The file is
 * read as the service reads YAML (every scalar a string); JSON is YAML, so it is read the same way.
 * A missing required parameter or a value of the wrong type is reported in the service's words
 * and place format: "/params.yml (Line: 3, Col: 1): The 'stepWaitSeconds' parameter value 'soon'
 * is not a valid Number."
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isMap, isScalar, LineCounter, parseDocument, type Node as YNode } from 'yaml';
import { PIPELINES_SCHEMA } from '../../testkit/official';
import { TemplateError, type Value } from '../../testkit/yaml-pipeline/expand';
import { formatProblem, normalize, PipelineValidator } from '../../testkit/yaml-pipeline/validate';

/** The pipeline could not be compiled: what Azure DevOps would show instead of starting a run. */
export class CompileError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
  }
}

export interface Compiled {
  /** Normalized (every scalar a string, origins kept). */
  pipeline: Value;
  /** Whether the official schema was available and checked. */
  schemaFile: string;
  parametersFile: string | undefined;
}

type Obj = Record<string, Value>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);

interface ParametersFile {
  rel: string;
  values: Obj;
  /** Line and column of each top-level parameter key. */
  at: Map<string, { line: number; col: number }>;
}

function readParameters(file: string, repoRoot: string): ParametersFile {
  const abs = path.resolve(file);
  const rel = path.relative(repoRoot, abs).startsWith('..') ? abs : path.relative(repoRoot, abs).split(path.sep).join('/');
  if (!fs.existsSync(abs)) throw new CompileError([`--parameters: ${file} was not found`]);
  const lc = new LineCounter();
  const doc = parseDocument(fs.readFileSync(abs, 'utf8'), { schema: 'failsafe', lineCounter: lc, uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    const p = lc.linePos(e.pos[0]);
    throw new CompileError([`${slash(rel)} (Line: ${p.line}, Col: ${p.col}): ${e.message.split('\n')[0]}`]);
  }
  let root = doc.contents as YNode | null;
  // Either the parameters mapping itself, or a file with a top-level `parameters:` mapping.
  if (
    isMap(root) &&
    root.items.length === 1 &&
    isScalar(root.items[0]!.key) &&
    String(root.items[0]!.key.value) === 'parameters' &&
    isMap(root.items[0]!.value)
  ) {
    root = root.items[0]!.value as YNode;
  }
  if (!isMap(root))
    throw new CompileError([`${slash(rel)} (Line: 1, Col: 1): a parameters file must be a mapping of parameter names to values`]);
  const at = new Map<string, { line: number; col: number }>();
  for (const p of root.items) {
    const k = p.key as YNode;
    const r = (k as { range?: [number, number, number] }).range;
    if (isScalar(k) && r) at.set(String(k.value), lc.linePos(r[0]));
  }
  const values = (root.toJSON() ?? {}) as Obj;
  return { rel, values, at };
}

/** The service names files from the repository root with a leading '/' (outside it: absolute). */
let repoRootForNames = '';
const slash = (f: string): string => (f.startsWith('/') ? f : f.startsWith('..') ? path.resolve(repoRootForNames, f) : `/${f}`);

/** "/file (Line: n, Col: c): message" as the service prints compile errors. */
function placed(e: TemplateError, params: ParametersFile | undefined): string {
  if (params && e.file === params.rel) {
    const name = /(?:The|Unexpected parameter) '([^']+)'/.exec(e.detail)?.[1];
    const pos = (name && params.at.get(name)) || { line: 1, col: 1 };
    return `${slash(e.file)} (Line: ${pos.line}, Col: ${pos.col}): ${e.detail}`;
  }
  return `${slash(e.file)}${e.line ? ` (Line: ${e.line})` : ''}: ${e.detail}`;
}

/** `repositories`: local copies of the pipeline's repository resources, by alias (`--repository alias=folder`). */
export function compilePipeline(
  repoRoot: string,
  pipelineFile: string,
  parametersFile?: string,
  repositories: Record<string, string> = {},
): Compiled {
  const schemaFile = PIPELINES_SCHEMA;
  const validator = new PipelineValidator(repoRoot, schemaFile);
  const expander = validator.expander(undefined, repositories);
  repoRootForNames = repoRoot;
  const abs = path.resolve(repoRoot, pipelineFile);
  const rel = path.relative(repoRoot, abs).split(path.sep).join('/');
  const params = parametersFile ? readParameters(parametersFile, repoRoot) : undefined;

  let expanded: Obj;
  try {
    const raw = parseDocument(fs.readFileSync(abs, 'utf8'), { schema: 'failsafe' }).toJS() as Obj | null;
    if (!isObj(raw)) throw new CompileError([`${slash(rel)}: a pipeline must be a mapping`]);
    if (params && raw.parameters === undefined && isObj(raw.extends)) {
      // The parameters file replaces the pipeline's `extends: parameters:`.
      const template = raw.extends.template;
      if (typeof template !== 'string' || template.includes('${{') || template.includes('@')) {
        throw new CompileError([`${slash(rel)}: extends.template must be a local path for --parameters (found '${String(template)}')`]);
      }
      const t = expander.expandTemplate(path.resolve(path.dirname(abs), template), params.values, { file: params.rel, line: 1 });
      if (t.kind !== 'stages') throw new CompileError([`${slash(rel)}: the extended template ${t.file} must produce stages`]);
      expanded = {};
      for (const [k, v] of Object.entries(raw)) if (k !== 'extends') expanded[k] = v;
      expanded.stages = t.body.stages!;
    } else {
      expanded = expander.expandPipeline(abs, params?.values ?? {}) as Obj;
    }
  } catch (e) {
    if (e instanceof TemplateError) throw new CompileError([placed(e, params)]);
    throw e;
  }
  {
    const problems = validator.check('pipeline', expanded, { file: rel, line: 0 }).map(formatProblem);
    if (problems.length) throw new CompileError(problems.map(slash));
  }
  return { pipeline: normalize(expanded), schemaFile, parametersFile: params?.rel };
}
