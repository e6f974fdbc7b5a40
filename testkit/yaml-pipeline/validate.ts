/**
 * Validation of expanded Azure Pipelines YAML (see ./expand.ts):
 *
 *  1. the official schema (microsoft/azure-pipelines-vscode service-schema.json), extended in
 *     memory with this repository's tasks generated from their task.json files, as Azure DevOps
 *     knows installed extension tasks: `task` must be `<Name>@<Major>` of a shipped task, inputs
 *     must be declared (aliases count), required inputs (required, no default, no visibleRule)
 *     present, pickList values among the options, booleans true/false; a `$( )` macro is accepted
 *     where a value is only known at run time;
 *  2. the same task rules again with messages that name the file, the path, the input and the
 *     task's valid inputs (the schema's anyOf errors are hard to read);
 *  3. output-variable references (`stageDependencies.S.J.outputs['...']`, `dependencies.X.outputs['...']`)
 *     must name a stage the consumer depends on, a job in it, a named step in that job, and an
 *     output variable the step's task.json declares, in the form the service uses for jobs and for
 *     runOnce deployment jobs;
 *  4. keys a template emits on purpose to refuse its input (`REFUSED ...: error`, the documented
 *     way to fail a template expansion) are reported with their text.
 *
 * How the schema is read: the service reads every YAML scalar as a string, and so does this
 * validator (booleans from expressions are rendered True/False, as the service renders them). The
 * schema is almost entirely string-typed; its few native `boolean`/`integer` nodes (a task's
 * continueOnError, timeoutInMinutes, retryCountOnTaskFailure, built-in tasks' boolean inputs) are
 * mapped to their string forms. Inputs may be given under their `aliases` (an editor keyword in
 * the schema, honoured here for every task). `ignoreCase: value` patterns are made case-insensitive;
 * `ignoreCase: key` (input names in any case) is not applied, so names must be spelled as declared;
 * `ignoreCase` enums stay case-sensitive (stricter than the service). `firstProperty` (the key a
 * mapping must start with, such as `task` or `stage`) is enforced. Other editor-only keywords
 * (doNotSuggest, deprecationMessage) are ignored.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import { PIPELINES_SCHEMA } from '../official';
import { Expander, ORIGIN, originOf, type DirectiveEvent, type Origin, type Value } from './expand';

// ---- tasks ------------------------------------------------------------------------------------

export interface TaskInput {
  name: string;
  aliases: string[];
  type: string;
  required: boolean;
  defaultValue: string;
  options?: string[];
  visibleRule?: string;
}

export interface TaskInfo {
  name: string;
  major: number;
  ref: string;
  friendlyName: string;
  inputs: TaskInput[];
  outputs: string[];
  file: string;
}

export function loadTasks(repoRoot: string): TaskInfo[] {
  const dir = path.join(repoRoot, 'tasks');
  const major = Number(
    (JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version.split('.')[0],
  );
  return fs
    .readdirSync(dir)
    .filter((d) => fs.existsSync(path.join(dir, d, 'task.json')))
    .sort()
    .map((d) => {
      const file = path.join(dir, d, 'task.json');
      const j = JSON.parse(fs.readFileSync(file, 'utf8')) as {
        name: string;
        friendlyName: string;
        inputs?: Array<{
          name: string;
          aliases?: string[];
          type: string;
          required?: boolean;
          defaultValue?: unknown;
          options?: Record<string, string>;
          properties?: Record<string, string>;
          visibleRule?: string;
        }>;
        outputVariables?: Array<{ name: string }>;
      };
      const inputs = (j.inputs ?? []).map((i) => {
        const editable = String(i.properties?.EditableOptions ?? '').toLowerCase() === 'true';
        const t: TaskInput = {
          name: i.name,
          aliases: i.aliases ?? [],
          type: i.type,
          required: !!i.required,
          defaultValue: i.defaultValue === undefined ? '' : String(i.defaultValue),
        };
        if ((i.type === 'pickList' || i.type === 'radio') && i.options && !editable) t.options = Object.keys(i.options);
        if (i.visibleRule) t.visibleRule = i.visibleRule;
        return t;
      });
      // The tasks' major version is package.json's (the build stamps it into task.json).
      return {
        name: j.name,
        major,
        ref: `${j.name}@${major}`,
        friendlyName: j.friendlyName,
        inputs,
        outputs: (j.outputVariables ?? []).map((o) => o.name),
        file: path.relative(repoRoot, file),
      };
    });
}

/** Inputs the YAML must set: required, with no default and no visibleRule (as the official schema generator does). */
export const mustSet = (i: TaskInput) => i.required && i.defaultValue === '' && !i.visibleRule;

const MACRO = '\\$\\(|\\$\\[';
const BOOL = `^\\s*([Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee])\\s*$|${MACRO}`;

function inputSchema(i: TaskInput): Record<string, unknown> {
  if (i.type === 'boolean') return { type: 'string', description: i.name, pattern: BOOL };
  if (i.options) return { description: i.name, anyOf: [{ enum: i.options }, { type: 'string', pattern: MACRO }] };
  return { type: 'string', description: i.name };
}

/** The schema entry Azure DevOps would know for an installed task, in the official schema's shape. */
function taskSchemaEntry(t: TaskInfo): Record<string, unknown> {
  const properties: Record<string, unknown> = {};
  for (const i of t.inputs) {
    properties[i.name] = inputSchema(i);
    for (const a of i.aliases) properties[a] = inputSchema(i);
  }
  const required = t.inputs.filter(mustSet);
  const inputs: Record<string, unknown> = { description: `${t.friendlyName} inputs`, properties, additionalProperties: false };
  // A required input may be given under one of its aliases.
  if (required.length) inputs.allOf = required.map((i) => ({ anyOf: [i.name, ...i.aliases].map((n) => ({ required: [n] })) }));
  return {
    properties: { task: { description: t.friendlyName, ignoreCase: 'value', pattern: `^${t.name}@${t.major}$` }, inputs },
    doNotSuggest: false,
    firstProperty: ['task'],
    required: required.length ? ['task', 'inputs'] : ['task'],
  };
}

// ---- schema -----------------------------------------------------------------------------------

function caseInsensitive(p: string): string {
  let out = '';
  let inClass = false;
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    if (c === '\\') {
      out += c + (p[i + 1] ?? '');
      i++;
    } else if (inClass) {
      if (c === ']') inClass = false;
      out += c;
    } else if (c === '[') {
      inClass = true;
      out += c;
    } else if (/[A-Za-z]/.test(c)) out += `[${c.toLowerCase()}${c.toUpperCase()}]`;
    else out += c;
  }
  return out;
}

/** The official schema with our tasks added and its few native types mapped to the string view. */
function extendedSchema(raw: Record<string, unknown>, tasks: TaskInfo[]): Record<string, unknown> {
  const s = structuredClone(raw) as { definitions: { task: { anyOf: unknown[]; properties: { task: { anyOf: unknown[] } } } } };
  for (const t of tasks) {
    s.definitions.task.properties.task.anyOf.push({ description: t.friendlyName, doNotSuggest: false, ignoreCase: 'value', enum: [t.ref] });
    s.definitions.task.anyOf.push(taskSchemaEntry(t));
  }
  const walk = (n: unknown): void => {
    if (Array.isArray(n)) return n.forEach(walk);
    if (!n || typeof n !== 'object') return;
    const o = n as Record<string, unknown>;
    if (o.type === 'boolean') {
      o.type = 'string';
      o.pattern = BOOL;
    } else if (o.type === 'integer' || o.type === 'number') {
      o.type = 'string';
      o.pattern = `^\\s*-?[0-9]+(\\.[0-9]+)?\\s*$|${MACRO}`;
    } else if (typeof o.pattern === 'string' && (o.ignoreCase === 'value' || o.ignoreCase === 'all')) {
      o.pattern = caseInsensitive(o.pattern);
    }
    // Task inputs may be given under their aliases (an editor-only keyword in the schema).
    if (o.properties && typeof o.properties === 'object' && !Array.isArray(o.properties)) {
      const props = o.properties as Record<string, { aliases?: unknown }>;
      for (const sub of Object.values(props)) {
        if (sub && Array.isArray(sub.aliases)) for (const a of sub.aliases as string[]) props[a] ??= sub;
      }
      // ...and a required input is present when one of its names is.
      if (Array.isArray(o.required)) {
        const names = (k: string) => [k, ...((props[k]?.aliases as string[] | undefined) ?? [])];
        const withAliases = (o.required as string[]).filter((k) => names(k).length > 1);
        if (withAliases.length) {
          o.required = (o.required as string[]).filter((k) => names(k).length === 1);
          o.allOf = [...((o.allOf as unknown[]) ?? []), ...withAliases.map((k) => ({ anyOf: names(k).map((n) => ({ required: [n] })) }))];
        }
      }
    }
    for (const v of Object.values(o)) walk(v);
  };
  walk(s);
  return s as unknown as Record<string, unknown>;
}

// ---- problems ---------------------------------------------------------------------------------

export interface Problem {
  file: string;
  line: number;
  path: string;
  message: string;
}

export const formatProblem = (p: Problem) => `${p.file}${p.line ? `:${p.line}` : ''}: ${p.path}: ${p.message}`;

type Seg = string | number;
const pathText = (segs: Seg[]) => segs.map((s, i) => (typeof s === 'number' ? `[${s}]` : i === 0 ? s : `.${s}`)).join('') || '(root)';

/** Deepest origin along a path: the file and line of the innermost mapping or sequence. */
function originAt(root: Value, segs: Seg[], fallback: Origin): Origin {
  let best = originOf(root) ?? fallback;
  let cur: Value | undefined = root;
  for (const s of segs) {
    if (cur === null || typeof cur !== 'object') break;
    cur = (cur as Record<string, Value>)[s as string];
    const o = originOf(cur);
    if (o) best = o;
  }
  return best;
}

/** A deep copy with every scalar as the service sees it: a string. Origins are kept. */
export function normalize(v: Value): Value {
  if (v === null) return '';
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') return v;
  const o = originOf(v);
  const out: Value = Array.isArray(v) ? v.map(normalize) : Object.fromEntries(Object.entries(v).map(([k, x]) => [k, normalize(x)]));
  if (o) Object.defineProperty(out, ORIGIN, { value: o, enumerable: false });
  return out;
}

const isObj = (v: Value | undefined): v is { [k: string]: Value } =>
  v !== null && v !== undefined && typeof v === 'object' && !Array.isArray(v);
const list = (v: Value | undefined): Value[] => (Array.isArray(v) ? v : []);
const str = (v: Value | undefined) => (typeof v === 'string' ? v : '');

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++)
      d[i]![j] = Math.min(
        d[i - 1]![j]! + 1,
        d[i]![j - 1]! + 1,
        d[i - 1]![j - 1]! + (a[i - 1]!.toLowerCase() === b[j - 1]!.toLowerCase() ? 0 : 1),
      );
  return d[a.length]![b.length]!;
}

// ---- structure walkers ------------------------------------------------------------------------

export type Kind = 'pipeline' | 'stages' | 'jobs' | 'steps';

interface StepAt {
  step: Value;
  segs: Seg[];
}

const HOOKS = ['preDeploy', 'deploy', 'routeTraffic', 'postRouteTraffic'] as const;

/** Steps of a job or deployment job (every lifecycle hook of its strategy), with their paths. */
function jobSteps(job: Value, segs: Seg[]): StepAt[] {
  if (!isObj(job)) return [];
  const out: StepAt[] = list(job.steps).map((step, i) => ({ step, segs: [...segs, 'steps', i] }));
  const strategy = job.strategy;
  if (isObj(strategy)) {
    for (const [name, s] of Object.entries(strategy)) {
      if (!isObj(s)) continue;
      for (const h of HOOKS)
        if (isObj(s[h]))
          out.push(
            ...list((s[h] as Record<string, Value>).steps).map((step, i) => ({ step, segs: [...segs, 'strategy', name, h, 'steps', i] })),
          );
      const on = s.on;
      if (isObj(on))
        for (const h of ['failure', 'success'])
          if (isObj(on[h]))
            out.push(
              ...list((on[h] as Record<string, Value>).steps).map((step, i) => ({
                step,
                segs: [...segs, 'strategy', name, 'on', h, 'steps', i],
              })),
            );
    }
  }
  return out;
}

function stagesOf(kind: Kind, v: Value): { stages: Value[]; base: Seg[] } | undefined {
  if (kind === 'stages') return { stages: list(v), base: [] };
  if (kind === 'pipeline' && isObj(v) && Array.isArray(v.stages)) return { stages: v.stages, base: ['stages'] };
  return undefined;
}

function allSteps(kind: Kind, v: Value): StepAt[] {
  const root: Seg[] = kind === 'pipeline' ? [] : [kind];
  if (kind === 'steps') return list(v).map((step, i) => ({ step, segs: [...root, i] }));
  if (kind === 'jobs') return list(v).flatMap((j, i) => jobSteps(j, [...root, i]));
  const st = stagesOf(kind, v);
  if (st)
    return st.stages.flatMap((s, i) => (isObj(s) ? list(s.jobs).flatMap((j, k) => jobSteps(j, [...root, ...st.base, i, 'jobs', k])) : []));
  if (isObj(v) && Array.isArray(v.jobs)) return v.jobs.flatMap((j, i) => jobSteps(j, ['jobs', i]));
  if (isObj(v) && Array.isArray(v.steps)) return v.steps.map((step, i) => ({ step, segs: ['steps', i] }));
  return [];
}

// ---- the validator ----------------------------------------------------------------------------

export class PipelineValidator {
  readonly tasks: TaskInfo[];
  readonly schema: Record<string, unknown>;
  private readonly ajv: Ajv;
  private readonly validators = new Map<string, ValidateFunction>();

  constructor(
    readonly repoRoot: string,
    schemaFile = PIPELINES_SCHEMA,
  ) {
    this.tasks = loadTasks(repoRoot);
    this.schema = extendedSchema(JSON.parse(fs.readFileSync(schemaFile, 'utf8')) as Record<string, unknown>, this.tasks);
    this.ajv = new Ajv({ strict: false, unicodeRegExp: false, allErrors: true });
    const firstProperty = function fp(schema: string[], data: Record<string, unknown>): boolean {
      const first = Object.keys(data)[0];
      if (first === undefined || schema.includes(first)) return true;
      (fp as unknown as { errors: Partial<ErrorObject>[] }).errors = [
        {
          keyword: 'firstProperty',
          message: `the first property must be ${schema.map((k) => `'${k}'`).join(' or ')}, not '${first}'`,
          params: { firstProperty: schema },
        },
      ];
      return false;
    };
    this.ajv.addKeyword({ keyword: 'firstProperty', type: 'object', schemaType: 'array', errors: true, validate: firstProperty });
    this.ajv.addSchema(this.schema, 'azp');
  }

  task(ref: string): TaskInfo | undefined {
    const name = ref.split('@')[0]!.toLowerCase();
    return this.tasks.find((t) => t.name.toLowerCase() === name);
  }

  private validator(def: string): ValidateFunction {
    let v = this.validators.get(def);
    if (!v) {
      v = this.ajv.getSchema(def === 'pipeline' ? 'azp' : `azp#/definitions/${def}`);
      if (!v) throw new Error(`schema definition ${def} not found`);
      this.validators.set(def, v);
    }
    return v;
  }

  /** An expander whose step/job/stage parameter values are checked against the schema. */
  expander(onDirective?: (e: DirectiveEvent) => void, repositories?: Record<string, string>): Expander {
    return new Expander({
      repoRoot: this.repoRoot,
      ...(onDirective ? { onDirective } : {}),
      ...(repositories ? { repositories } : {}),
      // A step/job/stage parameter value is checked like any steps/jobs/stages: schema, our tasks'
      // inputs, and keys a template emitted to refuse it.
      checkParameterValue: (kind, value) => {
        const listKind = ({ step: 'steps', steps: 'steps', job: 'jobs', jobs: 'jobs', stage: 'stages', stages: 'stages' } as const)[kind];
        return this.check(listKind, kind === listKind ? value : [value]).map((p) => `${p.path}: ${p.message}`);
      },
    });
  }

  /** Every problem in an expanded pipeline or fragment. */
  check(kind: Kind, value: Value, fallback: Origin = { file: '(expanded)', line: 0 }): Problem[] {
    const v = normalize(value);
    const root: Seg[] = kind === 'pipeline' ? [] : [kind];
    const refusedAt: Seg[][] = [];
    const refused = this.refusals(v, root, v, fallback, root, refusedAt);
    const problems = [...refused, ...this.taskProblems(kind, v, fallback)];
    // A refusal explains the schema errors of the mapping that carries it.
    const known = refusedAt.map((segs) =>
      segs
        .slice(root.length)
        .map((x) => `/${String(x).replace(/~/g, '~0').replace(/\//g, '~1')}`)
        .join(''),
    );
    problems.push(...this.schemaProblems(kind === 'pipeline' ? 'pipeline' : kind, v, root, fallback, known));
    problems.push(...this.dependencyProblems(kind, v, fallback));
    return problems;
  }

  private at(root: Value, segs: Seg[], fallback: Origin, message: string, rootSegs: Seg[] = []): Problem {
    const o = originAt(root, segs.slice(rootSegs.length), fallback);
    return { file: o.file, line: o.line, path: pathText(segs), message };
  }

  private refusals(v: Value, segs: Seg[], root: Value, fallback: Origin, rootSegs: Seg[], at: Seg[][]): Problem[] {
    if (Array.isArray(v)) return v.flatMap((x, i) => this.refusals(x, [...segs, i], root, fallback, rootSegs, at));
    if (!isObj(v)) return [];
    return Object.entries(v).flatMap(([k, x]) => {
      if (!/^REFUSED\b/.test(k)) return this.refusals(x, [...segs, k], root, fallback, rootSegs, at);
      at.push(segs);
      return [this.at(root, segs, fallback, `the template refused this input: ${k}`, rootSegs)];
    });
  }

  /**
   * Schema errors, summarised so they can be read: alternatives that plainly do not apply are
   * dropped (their first property or task name does not match), an error is dropped when a
   * deeper one explains the same subtree, and failed alternatives at one path are merged ("A or
   * B"). A failing document always yields at least one problem. `known` are instance paths (JSON
   * pointers) already explained, such as a template's refusal.
   */
  schemaProblems(def: string, v: Value, root: Seg[], fallback: Origin, known: string[] = []): Problem[] {
    const validate = this.validator(def);
    if (validate(v)) return [];
    const errors = (validate.errors ?? []) as ErrorObject[];
    const under = (path: string, at: string) => path === at || path.startsWith(`${at}/`);
    const dead: Array<{ schema: string; instance: string }> = [];
    for (const e of errors) {
      if (e.keyword === 'firstProperty') dead.push({ schema: e.schemaPath.replace(/\/firstProperty$/, ''), instance: e.instancePath });
      const m = /^(#\/definitions\/task\/anyOf\/\d+)\/properties\/task\/pattern$/.exec(e.schemaPath);
      if (m) dead.push({ schema: m[1]!, instance: e.instancePath.replace(/\/task$/, '') });
    }
    const isDead = (e: ErrorObject) => dead.some((d) => e.schemaPath.startsWith(`${d.schema}/`) && under(e.instancePath, d.instance));
    // A required input may be given under an alias: report the input's own name only.
    const aliasAlternative = (e: ErrorObject) => /\/inputs\/allOf\/\d+\/anyOf\/[1-9]\d*\/required$/.test(e.schemaPath);
    const isKnown = (path: string) => known.some((k) => under(path, k));
    let keep = errors.filter(
      (e) => !['anyOf', 'oneOf', 'allOf', 'if'].includes(e.keyword) && !isDead(e) && !aliasAlternative(e) && !isKnown(e.instancePath),
    );
    // Where no alternative applies at all, say so at the outermost alternative, with what could
    // start a mapping there (ajv reports inner errors first, so the last one at a path is outermost).
    const anyOfPaths = [
      ...new Set(errors.filter((e) => e.keyword === 'anyOf' && !isDead(e) && !isKnown(e.instancePath)).map((e) => e.instancePath)),
    ].sort((a, b) => a.length - b.length);
    const fallbacks: ErrorObject[] = [];
    for (const at of anyOfPaths) {
      if (
        keep.some((e) => under(e.instancePath, at)) ||
        fallbacks.some((f) => under(at, f.instancePath)) ||
        known.some((k) => under(k, at))
      )
        continue;
      const outer = errors.filter((e) => e.keyword === 'anyOf' && e.instancePath === at).pop()!;
      const starts = [
        ...new Set(
          errors
            .filter((e) => e.keyword === 'firstProperty' && e.instancePath === at)
            .flatMap((e) => (e.params as { firstProperty: string[] }).firstProperty),
        ),
      ];
      fallbacks.push({
        ...outer,
        message: `matches none of the allowed forms${starts.length ? ` (a mapping here starts with ${starts.map((x) => `'${x}'`).join(', ')})` : ''}`,
      });
    }
    keep = [...keep, ...fallbacks];
    // The most specific errors win: drop one whose subtree holds a deeper error (or a known problem).
    const deeper = [...keep.map((e) => e.instancePath), ...known];
    keep = keep.filter((e) => !deeper.some((d) => d !== e.instancePath && under(d, e.instancePath)));
    if (!keep.length && !known.length) keep = errors.slice(0, 1);
    // Alternatives of one anyOf failing at one path: one problem, "A or B".
    const groups = new Map<string, { e: ErrorObject; messages: string[] }>();
    for (const e of keep) {
      const segs = pointer(e.instancePath);
      let message = e.message ?? e.keyword;
      if (e.keyword === 'additionalProperties')
        message = `unexpected property '${(e.params as { additionalProperty: string }).additionalProperty}'`;
      if (e.keyword === 'required') message = `missing property '${(e.params as { missingProperty: string }).missingProperty}'`;
      if (e.keyword === 'enum')
        message = `must be one of ${((e.params as { allowedValues: unknown[] }).allowedValues ?? []).map((x) => `'${String(x)}'`).join(', ')}`;
      if (e.keyword === 'pattern')
        message = `'${String(getAt(v, segs))}' does not match ${String((e.params as { pattern: string }).pattern)}`;
      const alt = /^(.*\/(?:anyOf|oneOf))\/\d+(?:\/|$)/.exec(e.schemaPath)?.[1] ?? e.schemaPath;
      const key = `${e.instancePath}|${alt}`;
      const g = groups.get(key) ?? { e, messages: [] };
      if (!g.messages.includes(message)) g.messages.push(message);
      groups.set(key, g);
    }
    const out = new Map<string, Problem>();
    for (const { e, messages } of groups.values()) {
      const enums = messages.filter((m) => m.startsWith('must be one of '));
      let message = messages.join(' or ');
      if (enums.length > 5)
        message = `'${String(getAt(v, pointer(e.instancePath)))}' is not one of the ${enums.length} values the schema allows here`;
      const p = this.at(v, [...root, ...pointer(e.instancePath)], fallback, `${message} (schema ${e.schemaPath})`, root);
      out.set(`${p.path}|${message}`, p);
    }
    return [...out.values()];
  }

  private taskProblems(kind: Kind, v: Value, fallback: Origin): Problem[] {
    const out: Problem[] = [];
    const shipped = this.tasks.map((t) => t.ref).join(', ');
    for (const { step, segs } of allSteps(kind, v)) {
      if (!isObj(step) || typeof step.task !== 'string') continue;
      const ref = step.task;
      const m = /^([A-Za-z0-9_.-]+)@(\d+)$/.exec(ref.trim());
      const t = this.task(ref);
      const here = (s: Seg[], msg: string) => out.push(this.at(v, s, fallback, msg, kind === 'pipeline' ? [] : [kind]));
      if (!t) {
        if (/^aml/i.test(ref)) here([...segs, 'task'], `'${ref}' is not a task this extension ships (shipped: ${shipped})`);
        continue; // other tasks: the official schema knows them
      }
      if (!m || Number(m[2]) !== t.major) {
        here([...segs, 'task'], `'${ref}' does not name a shipped major version: use ${t.ref} (${t.file})`);
        continue;
      }
      if (m[1] !== t.name) here([...segs, 'task'], `'${ref}': write the task name as ${t.name}`);
      const inputs = step.inputs ?? {};
      if (!isObj(inputs)) {
        here([...segs, 'inputs'], `inputs of ${t.ref} must be a mapping`);
        continue;
      }
      const names = new Map<string, TaskInput>();
      for (const i of t.inputs) for (const n of [i.name, ...i.aliases]) names.set(n, i);
      const valid = t.inputs.map((i) => (i.aliases.length ? `${i.name} (alias ${i.aliases.join(', ')})` : i.name)).join(', ');
      const given = new Map<TaskInput, string[]>();
      for (const [key, value] of Object.entries(inputs)) {
        const input = names.get(key);
        if (!input) {
          const near = [...names.keys()].map((n) => ({ n, d: editDistance(key, n) })).sort((a, b) => a.d - b.d)[0];
          const hint = near && near.d <= Math.max(2, Math.floor(key.length / 4)) ? ` Did you mean '${near.n}'?` : '';
          here([...segs, 'inputs'], `unknown input '${key}' for ${t.ref}.${hint} Valid inputs of ${t.ref} (${t.file}): ${valid}`);
          continue;
        }
        given.set(input, [...(given.get(input) ?? []), key]);
        const text = typeof value === 'string' ? value : '';
        if (typeof value !== 'string') here([...segs, 'inputs', key], `input '${key}' of ${t.ref} must be a scalar`);
        else if (/\$\(|\$\[/.test(text))
          continue; // known at run time only
        else if (input.type === 'boolean' && !/^\s*(true|false)\s*$/i.test(text))
          here([...segs, 'inputs', key], `input '${key}' of ${t.ref} is a boolean: 'true' or 'false', not '${text}'`);
        else if (input.options && !input.options.includes(text))
          here(
            [...segs, 'inputs', key],
            `input '${key}' of ${t.ref} must be one of ${input.options.map((o) => `'${o}'`).join(', ')}, not '${text}'`,
          );
      }
      for (const [input, keys] of given)
        if (keys.length > 1) here([...segs, 'inputs'], `input '${input.name}' of ${t.ref} is set twice (${keys.join(' and ')})`);
      for (const i of t.inputs.filter(mustSet)) {
        const keys = given.get(i);
        const value = keys ? str(inputs[keys[0]!]).trim() : '';
        if (!keys) here([...segs, 'inputs'], `required input '${i.name}' of ${t.ref} is missing`);
        else if (!value) here([...segs, 'inputs', keys[0]!], `required input '${i.name}' of ${t.ref} is empty`);
      }
    }
    return out;
  }

  /** stageDependencies / dependencies references must point at real stages, jobs, steps and outputs. */
  private dependencyProblems(kind: Kind, v: Value, fallback: Origin): Problem[] {
    const st = stagesOf(kind, v);
    if (!st) return [];
    const root: Seg[] = kind === 'pipeline' ? [] : [kind];
    const out: Problem[] = [];
    const stages = st.stages.filter(isObj);
    const byName = new Map(stages.map((s) => [str(s.stage), s]));
    const here = (segs: Seg[], msg: string) => out.push(this.at(v, [...root, ...segs], fallback, msg, root));

    /** Resolve `<step>.<var>` (job form) or `<job>.<step>.<var>` (deployment job form) in a job. */
    const resolve = (stageName: string, job: Value, key: string, form: 'job' | 'stage'): string | undefined => {
      if (!isObj(job)) return 'not a job';
      const jobName = str(job.job) || str(job.deployment);
      const isDeployment = 'deployment' in job;
      let parts = key.split('.');
      const want = (form === 'stage' ? 1 : 0) + (isDeployment ? 1 : 0) + 2;
      const shape = `${form === 'stage' ? '<job>.' : ''}${isDeployment ? '<job>.' : ''}<step>.<variable>`;
      if (parts.length !== want)
        return `'${key}' should be ${shape}${isDeployment ? ` (deployment job '${jobName}' with the runOnce strategy: outputs are prefixed with the job name)` : ''}`;
      if (form === 'stage') {
        if (parts[0] !== jobName) return `'${key}' should start with the job name '${jobName}'`;
        parts = parts.slice(1);
      }
      if (isDeployment) {
        const strategy = isObj(job.strategy) ? Object.keys(job.strategy)[0] : undefined;
        if (strategy !== 'runOnce') return `deployment job '${jobName}' uses '${strategy}'; only runOnce output names are checked`;
        if (isObj(job.environment) && job.environment.resourceName)
          return `deployment job '${jobName}' targets an environment resource: its outputs are Deploy_<resource>.<step>.<variable>, not checked here`;
        if (parts[0] !== jobName)
          return `'${key}': outputs of runOnce deployment job '${jobName}' are addressed as '${jobName}.<step>.<variable>'`;
        parts = parts.slice(1);
      }
      const [stepName, variable] = parts as [string, string];
      const steps = jobSteps(job, [])
        .map((s) => s.step)
        .filter(isObj);
      const step = steps.find((s) => s.name === stepName);
      const named = steps.map((s) => str(s.name)).filter(Boolean);
      if (!step)
        return `job '${jobName}' of stage '${stageName}' has no step named '${stepName}' (named steps: ${named.join(', ') || 'none'})`;
      const t = typeof step.task === 'string' ? this.task(step.task) : undefined;
      if (!t) return `step '${stepName}' is not one of this extension's tasks; its outputs cannot be checked`;
      if (!t.outputs.includes(variable))
        return `step '${stepName}' (${t.ref}) declares no output variable '${variable}' (outputs: ${t.outputs.join(', ')}, ${t.file})`;
      return undefined;
    };

    const strings = (node: Value | undefined, segs: Seg[]): Array<{ s: string; segs: Seg[] }> => {
      if (typeof node === 'string') return [{ s: node, segs }];
      if (Array.isArray(node)) return node.flatMap((x, i) => strings(x, [...segs, i]));
      if (isObj(node)) return Object.entries(node).flatMap(([k, x]) => strings(x, [...segs, k]));
      return [];
    };

    stages.forEach((stage, si) => {
      const sSegs: Seg[] = [...st.base, si];
      const name = str(stage.stage);
      const deps =
        stage.dependsOn === undefined
          ? si > 0
            ? [str(stages[si - 1]!.stage)]
            : []
          : typeof stage.dependsOn === 'string'
            ? stage.dependsOn
              ? [stage.dependsOn]
              : []
            : list(stage.dependsOn).map(str);
      for (const d of deps)
        if (!byName.has(d))
          here(
            [...sSegs, 'dependsOn'],
            `stage '${name}' depends on '${d}', which is not a stage (stages: ${[...byName.keys()].join(', ')})`,
          );
      const stageRef = (s: string, segs: Seg[], jobDeps?: { jobs: Map<string, Value>; deps: string[] }) => {
        for (const m of s.matchAll(/\bstageDependencies\.([A-Za-z0-9_]+)\.([A-Za-z0-9_]+)\.outputs\[\s*'([^']*)'\s*\]/g)) {
          const [, S, J, K] = m as unknown as [string, string, string, string];
          const target = byName.get(S);
          if (!target) here(segs, `stageDependencies.${S}: there is no stage '${S}'`);
          else if (!deps.includes(S))
            here(segs, `stageDependencies.${S}: stage '${name}' does not depend on '${S}' (dependsOn: ${deps.join(', ') || 'none'})`);
          else {
            const job = list(target.jobs).find((j) => isObj(j) && (j.job === J || j.deployment === J));
            if (!job) here(segs, `stageDependencies.${S}.${J}: stage '${S}' has no job '${J}'`);
            else {
              const why = resolve(S, job, K, 'job');
              if (why) here(segs, `stageDependencies.${S}.${J}.outputs['${K}']: ${why}`);
            }
          }
        }
        for (const m of s.matchAll(/(?<![A-Za-z.])dependencies\.([A-Za-z0-9_]+)\.(outputs\[\s*'([^']*)'\s*\]|result)/g)) {
          const [, X, what, K] = m as unknown as [string, string, string, string | undefined];
          if (!jobDeps) {
            // Stage level: X is a stage; keys are <job>.<step>.<var> (or <job>.<job>.<step>.<var>).
            const target = byName.get(X);
            if (!target) here(segs, `dependencies.${X}: there is no stage '${X}'`);
            else if (!deps.includes(X))
              here(segs, `dependencies.${X}: stage '${name}' does not depend on '${X}' (dependsOn: ${deps.join(', ') || 'none'})`);
            else if (what !== 'result') {
              const jobName = K!.split('.')[0]!;
              const job = list(target.jobs).find((j) => isObj(j) && (j.job === jobName || j.deployment === jobName));
              if (!job) here(segs, `dependencies.${X}.outputs['${K}']: stage '${X}' has no job '${jobName}'`);
              else {
                const why = resolve(X, job, K!, 'stage');
                if (why) here(segs, `dependencies.${X}.outputs['${K}']: ${why}`);
              }
            }
          } else {
            // Job level: X is a job of this stage that this job depends on.
            const job = jobDeps.jobs.get(X);
            if (!job) here(segs, `dependencies.${X}: stage '${name}' has no job '${X}'`);
            else if (!jobDeps.deps.includes(X)) here(segs, `dependencies.${X}: the job does not depend on '${X}'`);
            else if (what !== 'result') {
              const why = resolve(name, job, K!, 'job');
              if (why) here(segs, `dependencies.${X}.outputs['${K}']: ${why}`);
            }
          }
        }
      };
      for (const key of ['condition', 'variables'] as const) for (const x of strings(stage[key], [...sSegs, key])) stageRef(x.s, x.segs);
      const jobs = new Map(
        list(stage.jobs)
          .filter(isObj)
          .map((j) => [str(j.job) || str(j.deployment), j as Value]),
      );
      list(stage.jobs).forEach((job, ji) => {
        if (!isObj(job)) return;
        const jSegs: Seg[] = [...sSegs, 'jobs', ji];
        const jd = typeof job.dependsOn === 'string' ? (job.dependsOn ? [job.dependsOn] : []) : list(job.dependsOn).map(str);
        for (const key of ['condition', 'variables'] as const)
          for (const x of strings(job[key], [...jSegs, key])) stageRef(x.s, x.segs, { jobs, deps: jd });
        for (const { step, segs } of jobSteps(job, jSegs)) {
          for (const x of strings(step, segs)) {
            if (/\b(stage)?[dD]ependencies\./.test(x.s))
              here(x.segs, 'dependencies and stageDependencies are not available to steps: map them to a job or stage variable');
          }
        }
      });
    });
    return out;
  }
}

function pointer(instancePath: string): Seg[] {
  return instancePath
    .split('/')
    .slice(1)
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s.replace(/~1/g, '/').replace(/~0/g, '~')));
}

function getAt(v: Value, segs: Seg[]): Value | undefined {
  let cur: Value | undefined = v;
  for (const s of segs) cur = cur !== null && typeof cur === 'object' ? (cur as Record<string, Value>)[s as string] : undefined;
  return cur;
}
