/**
 * Compile-time expansion of Azure Pipelines YAML, the subset our templates use, so the result can
 * be validated against the official schema. It mirrors the service's order: a template reference's
 * `parameters:` are expanded in the caller, bound to the template's typed declarations (unknown,
 * missing and mistyped parameters are errors, as in Azure DevOps), then the template body is
 * expanded with `parameters` in scope.
 *
 * Supported:
 *  - `${{ expr }}` as a whole value (keeps its type: a stepList parameter inserts a sequence, an
 *    object inserts a mapping) and inside strings and mapping keys (converted to text);
 *  - `${{ if }}`, `${{ elseif }}`, `${{ else }}`, `${{ each x in coll }}` and `${{ insert }}` as
 *    mapping keys, both inside mappings (the body is merged) and as sequence items (a sequence body
 *    is spliced in, a mapping body becomes one item); a whole-value expression that yields a
 *    sequence inside a sequence is spliced in (`- ${{ parameters.preSteps }}`);
 *  - `- template: path` in steps, jobs and stages lists, and `extends: template:`; paths are
 *    relative to the including file, or to the repository root with a leading `/`;
 *  - typed parameters (string, number, boolean, object, step, stepList, job, jobList, deployment,
 *    deploymentList, stage, stageList) with `default` and `values`, and the legacy mapping form.
 *
 * Not supported, reported as errors naming the file and line rather than skipped: YAML anchors and
 * aliases (the service rejects them too), templates in a repository the pipeline does not declare
 * in `resources.repositories` or that has no local copy (`repositories` option), variable templates, templates that extend another template, and everything
 * ./expression.ts does not support. Runtime syntax (`$[ ]`, `$( )`, `condition:`) is kept as text.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Node as YNode, type YAMLMap, type YAMLSeq } from 'yaml';
import { evaluate, ExpressionError, findExpressions, toStr, truthy, type Value } from './expression';

export type { Value } from './expression';

/** Where an expanded mapping or sequence came from; a non-enumerable symbol, so schemas never see it. */
export const ORIGIN = Symbol('origin');
export interface Origin {
  file: string;
  line: number;
}

export function originOf(v: unknown): Origin | undefined {
  return v !== null && typeof v === 'object' ? (v as { [ORIGIN]?: Origin })[ORIGIN] : undefined;
}

function setOrigin<T extends object>(v: T, o: Origin): T {
  Object.defineProperty(v, ORIGIN, { value: o, enumerable: false, configurable: true });
  return v;
}

export class TemplateError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly detail: string,
  ) {
    super(`${file}:${line}: ${detail}`);
  }
}

export type ParameterType =
  | 'string'
  | 'number'
  | 'boolean'
  | 'object'
  | 'step'
  | 'stepList'
  | 'job'
  | 'jobList'
  | 'deployment'
  | 'deploymentList'
  | 'stage'
  | 'stageList'
  | 'container'
  | 'containerList'
  | 'legacyObject';

export interface ParameterDecl {
  name: string;
  type: ParameterType;
  hasDefault: boolean;
  default?: Value;
  values?: string[];
  line: number;
}

type ListKind = 'steps' | 'jobs' | 'stages';

export interface DirectiveEvent {
  file: string;
  line: number;
  kind: 'if' | 'elseif' | 'else' | 'each' | 'insert';
  taken: boolean;
}

interface ExpandOptions {
  repoRoot: string;
  /** Called for every conditional the expansion meets, taken or not (branch coverage). */
  onDirective?: (e: DirectiveEvent) => void;
  /** Schema check of step/job/stage parameter values; returns problems as text. */
  checkParameterValue?: (kind: 'step' | 'steps' | 'job' | 'jobs' | 'stage' | 'stages', value: Value) => string[];
  /** Local copies of repository resources, by alias, for `path@alias` template references. */
  repositories?: Record<string, string>;
}

export interface ExpandedTemplate {
  file: string;
  kind: ListKind;
  decls: ParameterDecl[];
  parameters: Record<string, Value>;
  /** The template's top-level keys other than `parameters`, expanded. */
  body: Record<string, Value>;
}

interface Loaded {
  abs: string;
  rel: string;
  root: YNode | null;
  lc: LineCounter;
}

interface Cx {
  f: Loaded;
  scope: Record<string, Value>;
}

type Directive = { kind: 'if' | 'elseif'; expr: string } | { kind: 'else' | 'insert' } | { kind: 'each'; variable: string; expr: string };

function parseDirective(key: string): Directive | undefined {
  const s = key.trim();
  if (!s.startsWith('${{') || !s.endsWith('}}')) return undefined;
  const inner = s.slice(3, -2).trim();
  let m = /^(if|elseif)\s+([\s\S]+)$/.exec(inner);
  if (m) return { kind: m[1] as 'if', expr: m[2]! };
  if (inner === 'else') return { kind: 'else' };
  if (inner === 'insert') return { kind: 'insert' };
  m = /^each\s+([A-Za-z_][A-Za-z0-9_]*)\s+in\s+([\s\S]+)$/.exec(inner);
  if (m) return { kind: 'each', variable: m[1]!, expr: m[2]! };
  return undefined;
}

const LIST_KINDS: readonly string[] = ['steps', 'jobs', 'stages'];

export class Expander {
  private readonly cache = new Map<string, Loaded>();

  constructor(private readonly opts: ExpandOptions) {}

  rel(abs: string): string {
    return path.relative(this.opts.repoRoot, abs).split(path.sep).join('/');
  }

  private load(abs: string, from?: Origin): Loaded {
    const hit = this.cache.get(abs);
    if (hit) return hit;
    if (!fs.existsSync(abs)) {
      throw new TemplateError(from?.file ?? this.rel(abs), from?.line ?? 0, `template '${this.rel(abs)}' was not found`);
    }
    const lc = new LineCounter();
    // Failsafe schema: every scalar is a string, as the service reads YAML.
    const doc = parseDocument(fs.readFileSync(abs, 'utf8'), { schema: 'failsafe', lineCounter: lc, uniqueKeys: true, prettyErrors: false });
    const rel = this.rel(abs);
    if (doc.errors.length) {
      const e = doc.errors[0]!;
      throw new TemplateError(rel, lc.linePos(e.pos[0]).line, `YAML: ${e.message}`);
    }
    const f: Loaded = { abs, rel, root: (doc.contents as YNode | null) ?? null, lc };
    this.cache.set(abs, f);
    return f;
  }

  private line(f: Loaded, n: YNode | null | undefined): number {
    const r = n && (n as { range?: [number, number, number] }).range;
    return r ? f.lc.linePos(r[0]).line : 0;
  }

  private fail(f: Loaded, n: YNode | null | undefined, msg: string): never {
    throw new TemplateError(f.rel, this.line(f, n), msg);
  }

  private evalIn(cx: Cx, n: YNode | null | undefined, expr: string): Value {
    try {
      return evaluate(expr, cx.scope);
    } catch (e) {
      if (e instanceof ExpressionError) this.fail(cx.f, n, e.message);
      throw e;
    }
  }

  /** A scalar with expressions: a whole `${{ }}` keeps its type, embedded ones become text. */
  private scalar(cx: Cx, n: YNode, s: string): Value {
    let segs;
    try {
      segs = findExpressions(s);
    } catch (e) {
      if (e instanceof ExpressionError) this.fail(cx.f, n, e.message);
      throw e;
    }
    if (segs.length === 0) return s;
    if (segs.length === 1 && segs[0]!.start === 0 && segs[0]!.end === s.length) {
      return this.evalIn(cx, n, segs[0]!.expr);
    }
    let out = '';
    let at = 0;
    for (const g of segs) {
      out += s.slice(at, g.start);
      const v = this.evalIn(cx, n, g.expr);
      try {
        out += toStr(v, `'\${{ ${g.expr} }}' inside a string`);
      } catch (e) {
        if (e instanceof ExpressionError) this.fail(cx.f, n, e.message);
        throw e;
      }
      at = g.end;
    }
    return out + s.slice(at);
  }

  /** Plain value of a node with no expansion (parameter defaults). */
  private plain(f: Loaded, n: YNode | null | undefined): Value {
    if (!n) return '';
    if (isAlias(n)) this.fail(f, n, 'YAML anchors and aliases are not supported by Azure Pipelines');
    if (isScalar(n)) return String(n.value ?? '');
    if (isSeq(n))
      return setOrigin(
        n.items.map((i) => this.plain(f, i as YNode)),
        { file: f.rel, line: this.line(f, n) },
      );
    if (isMap(n)) {
      const o: Record<string, Value> = {};
      for (const p of n.items) o[String((p.key as { value?: unknown })?.value ?? '')] = this.plain(f, p.value as YNode);
      return setOrigin(o, { file: f.rel, line: this.line(f, n) });
    }
    return this.fail(f, n, 'unsupported YAML node');
  }

  private node(cx: Cx, n: YNode | null | undefined, hint?: ListKind): Value {
    if (!n) return '';
    if (isAlias(n)) this.fail(cx.f, n, 'YAML anchors and aliases are not supported by Azure Pipelines');
    if (isScalar(n)) return this.scalar(cx, n, String(n.value ?? ''));
    if (isMap(n)) return this.map(cx, n);
    if (isSeq(n)) return this.seq(cx, n, hint);
    return this.fail(cx.f, n, 'unsupported YAML node');
  }

  private report(cx: Cx, n: YNode | null | undefined, kind: DirectiveEvent['kind'], taken: boolean): void {
    this.opts.onDirective?.({ file: cx.f.rel, line: this.line(cx.f, n), kind, taken });
  }

  /** Iterate `${{ each }}`: sequence items, or {key, value} pairs of a mapping. */
  private eachItems(cx: Cx, n: YNode | null | undefined, d: { variable: string; expr: string }): Cx[] {
    const coll = this.evalIn(cx, n, d.expr);
    let items: Value[];
    if (coll === null || coll === '') items = [];
    else if (Array.isArray(coll)) items = coll;
    else if (typeof coll === 'object') items = Object.entries(coll).map(([key, value]) => ({ key, value }));
    else return this.fail(cx.f, n, `\${{ each ${d.variable} in ${d.expr} }}: '${toStr(coll)}' is not a sequence or mapping`);
    return items.map((item) => ({ f: cx.f, scope: { ...cx.scope, [d.variable]: item } }));
  }

  /**
   * Conditional chains: returns whether this branch is taken and updates the chain. `chain` is
   * undefined outside a chain, else whether an earlier branch was taken.
   */
  private branch(
    cx: Cx,
    keyNode: YNode,
    d: Directive,
    chain: { taken: boolean } | undefined,
  ): { take: boolean; chain: { taken: boolean } | undefined } {
    if (d.kind === 'if') {
      const take = truthy(this.evalIn(cx, keyNode, d.expr));
      this.report(cx, keyNode, 'if', take);
      return { take, chain: { taken: take } };
    }
    if (!chain) this.fail(cx.f, keyNode, `\${{ ${d.kind} }} must directly follow an \${{ if }} or \${{ elseif }}`);
    if (d.kind === 'elseif') {
      const take = !chain.taken && truthy(this.evalIn(cx, keyNode, d.expr));
      this.report(cx, keyNode, 'elseif', take);
      return { take, chain: { taken: chain.taken || take } };
    }
    const take = !chain.taken;
    this.report(cx, keyNode, 'else', take);
    return { take, chain: undefined };
  }

  private merge(cx: Cx, at: YNode, into: Record<string, Value>, from: Value): void {
    if (from === '' || from === null) return;
    if (typeof from !== 'object' || Array.isArray(from))
      this.fail(cx.f, at, 'a sequence or scalar was not expected here: the body of a directive inside a mapping must be a mapping');
    for (const [k, v] of Object.entries(from)) {
      if (Object.prototype.hasOwnProperty.call(into, k)) this.fail(cx.f, at, `'${k}' is already defined`);
      into[k] = v;
    }
  }

  private map(cx: Cx, m: YAMLMap, skip: readonly string[] = []): Record<string, Value> {
    const out: Record<string, Value> = setOrigin({}, { file: cx.f.rel, line: this.line(cx.f, m) });
    let chain: { taken: boolean } | undefined;
    for (const pair of m.items) {
      const keyNode = pair.key as YNode;
      if (!isScalar(keyNode)) this.fail(cx.f, m, 'mapping keys must be scalars');
      const raw = String(keyNode.value ?? '');
      if (skip.includes(raw)) continue;
      const d = parseDirective(raw);
      const valueNode = pair.value as YNode | null;
      if (d) {
        if (d.kind === 'if' || d.kind === 'elseif' || d.kind === 'else') {
          const r = this.branch(cx, keyNode, d, chain);
          chain = r.chain;
          if (r.take) this.merge(cx, keyNode, out, this.node(cx, valueNode));
        } else if (d.kind === 'each') {
          chain = undefined;
          const iters = this.eachItems(cx, keyNode, d);
          this.report(cx, keyNode, 'each', iters.length > 0);
          for (const icx of iters) this.merge(icx, keyNode, out, this.node(icx, valueNode));
        } else {
          chain = undefined;
          this.report(cx, keyNode, 'insert', true);
          this.merge(cx, keyNode, out, this.node(cx, valueNode));
        }
        continue;
      }
      chain = undefined;
      const keyValue = this.scalar(cx, keyNode, raw);
      let key: string;
      try {
        key = toStr(keyValue, 'a mapping key');
      } catch (e) {
        if (e instanceof ExpressionError) this.fail(cx.f, keyNode, e.message);
        throw e;
      }
      if (Object.prototype.hasOwnProperty.call(out, key)) this.fail(cx.f, keyNode, `'${key}' is already defined`);
      out[key] = this.node(cx, valueNode, LIST_KINDS.includes(key) ? (key as ListKind) : undefined);
    }
    return out;
  }

  private seq(cx: Cx, s: YAMLSeq, hint?: ListKind): Value[] {
    const out: Value[] = setOrigin([], { file: cx.f.rel, line: this.line(cx.f, s) });
    const push = (c: Cx, at: YNode, v: Value) => {
      const first = v !== null && typeof v === 'object' && !Array.isArray(v) ? Object.keys(v)[0] : undefined;
      if (hint && first === 'template') out.push(...this.include(c, at, v as Record<string, Value>, hint));
      else out.push(v);
    };
    let chain: { taken: boolean } | undefined;
    for (const item of s.items as YNode[]) {
      const firstKey =
        isMap(item) && item.items.length === 1 && isScalar(item.items[0]!.key)
          ? String((item.items[0]!.key as { value: unknown }).value)
          : undefined;
      const d = firstKey !== undefined ? parseDirective(firstKey) : undefined;
      if (d && isMap(item)) {
        const keyNode = item.items[0]!.key as YNode;
        const body = item.items[0]!.value as YNode | null;
        const emit = (c: Cx): Value | undefined => {
          if (isSeq(body)) {
            out.push(...this.seq(c, body, hint));
            return undefined;
          }
          return this.node(c, body);
        };
        if (d.kind === 'if' || d.kind === 'elseif' || d.kind === 'else') {
          const r = this.branch(cx, keyNode, d, chain);
          chain = r.chain;
          if (r.take) {
            const v = emit(cx);
            if (v !== undefined && v !== '') push(cx, item, v);
          }
        } else if (d.kind === 'each') {
          chain = undefined;
          const iters = this.eachItems(cx, keyNode, d);
          this.report(cx, keyNode, 'each', iters.length > 0);
          if (isSeq(body)) for (const icx of iters) emit(icx);
          else if (iters.length) {
            // A mapping body inside a sequence: one item, merged over the iterations.
            const merged: Record<string, Value> = setOrigin({}, { file: cx.f.rel, line: this.line(cx.f, item) });
            for (const icx of iters) this.merge(icx, keyNode, merged, this.node(icx, body));
            if (Object.keys(merged).length) push(cx, item, merged);
          }
        } else {
          chain = undefined;
          this.fail(cx.f, keyNode, '${{ insert }} is only supported inside a mapping');
        }
        continue;
      }
      chain = undefined;
      if (isScalar(item)) {
        const v = this.scalar(cx, item, String(item.value ?? ''));
        if (Array.isArray(v)) {
          for (const e of v) push(cx, item, e);
          continue;
        }
        out.push(v);
        continue;
      }
      push(cx, item, this.node(cx, item));
    }
    return out;
  }

  /** Aliases the pipeline declares under resources.repositories (set by expandPipeline). */
  private declaredRepositories = new Set<string>(['self']);

  resolvePath(f: Loaded, at: YNode | null | undefined, ref: string): string {
    const roots = [this.opts.repoRoot, ...Object.values(this.opts.repositories ?? {})];
    const inside = (abs: string): boolean => roots.some((r) => !path.relative(r, abs).startsWith('..'));
    const at$ = ref.lastIndexOf('@');
    if (at$ >= 0) {
      // path@alias: the path is from that repository's root (the service's rule).
      const [p, alias] = [ref.slice(0, at$), ref.slice(at$ + 1)];
      if (!this.declaredRepositories.has(alias))
        this.fail(f, at, `template '${ref}': the pipeline declares no repository '${alias}' under resources.repositories`);
      const root = alias === 'self' ? this.opts.repoRoot : this.opts.repositories?.[alias];
      if (!root)
        this.fail(
          f,
          at,
          `template '${ref}': no local copy of repository '${alias}' to read it from (map it, e.g. --repository ${alias}=<folder>)`,
        );
      return path.join(root, p.replace(/^\/+/, ''));
    }
    const abs = ref.startsWith('/') ? path.join(this.opts.repoRoot, ref) : path.resolve(path.dirname(f.abs), ref);
    if (!inside(abs)) this.fail(f, at, `template '${ref}' is outside the repository`);
    return abs;
  }

  private include(cx: Cx, at: YNode, ref: Record<string, Value>, hint: ListKind): Value[] {
    const extra = Object.keys(ref).filter((k) => k !== 'template' && k !== 'parameters');
    if (extra.length)
      this.fail(cx.f, at, `a template reference takes only 'template' and 'parameters', not ${extra.map((k) => `'${k}'`).join(', ')}`);
    const file = ref.template;
    if (typeof file !== 'string' || !file) this.fail(cx.f, at, "'template' must name a file");
    const given = ref.parameters === undefined || ref.parameters === '' ? {} : ref.parameters;
    if (typeof given !== 'object' || Array.isArray(given) || given === null)
      this.fail(cx.f, at, "a template's 'parameters' must be a mapping");
    const t = this.expandTemplate(this.resolvePath(cx.f, at, file), given, { file: cx.f.rel, line: this.line(cx.f, at) });
    if (t.kind !== hint) this.fail(cx.f, at, `'${file}' is a ${t.kind} template, used where ${hint} are expected`);
    const list = t.body[hint];
    return Array.isArray(list) ? list : [];
  }

  /** Typed declarations of a template or pipeline (list form), or the legacy mapping form. */
  private declarations(f: Loaded, n: YNode | null | undefined): ParameterDecl[] {
    if (!n || (isScalar(n) && !n.value)) return [];
    if (isMap(n)) {
      return n.items.map((p) => ({
        name: String((p.key as { value?: unknown }).value),
        type: 'legacyObject' as const,
        hasDefault: true,
        default: this.plain(f, p.value as YNode),
        line: this.line(f, p.key as YNode),
      }));
    }
    if (!isSeq(n)) this.fail(f, n, "'parameters' must be a sequence of declarations");
    const types: readonly string[] = [
      'string',
      'number',
      'boolean',
      'object',
      'step',
      'stepList',
      'job',
      'jobList',
      'deployment',
      'deploymentList',
      'stage',
      'stageList',
      'container',
      'containerList',
    ];
    return (n.items as YNode[]).map((item) => {
      if (!isMap(item)) this.fail(f, item, 'a parameter declaration must be a mapping with name, type and default');
      const get = (k: string) => item.items.find((p) => (p.key as { value?: unknown }).value === k);
      const name = get('name');
      if (!name || !isScalar(name.value) || !String(name.value.value)) this.fail(f, item, "a parameter declaration needs a 'name'");
      const typeNode = get('type');
      const type = typeNode && isScalar(typeNode.value) ? String(typeNode.value.value) : 'string';
      if (!types.includes(type))
        this.fail(f, item, `parameter '${String(name.value.value)}': type '${type}' is not a parameter type (${types.join(', ')})`);
      const def = get('default');
      const values = get('values');
      const decl: ParameterDecl = {
        name: String(name.value.value),
        type: type as ParameterType,
        hasDefault: !!def,
        line: this.line(f, item),
      };
      if (def) decl.default = this.plain(f, def.value as YNode);
      if (values) {
        const v = this.plain(f, values.value as YNode);
        if (!Array.isArray(v)) this.fail(f, item, `parameter '${decl.name}': 'values' must be a sequence`);
        decl.values = v.map((x) => toStr(x));
      }
      return decl;
    });
  }

  /** The declarations of a template or pipeline file. */
  declarationsOf(abs: string): ParameterDecl[] {
    const f = this.load(abs);
    const pair = isMap(f.root) ? f.root.items.find((p) => (p.key as { value?: unknown }).value === 'parameters') : undefined;
    return this.declarations(f, pair?.value as YNode | undefined);
  }

  /** Bind given values to declarations, with the service's checks and its style of messages. */
  bind(file: string, line: number, decls: ParameterDecl[], given: Record<string, Value>, legacy: boolean): Record<string, Value> {
    const err = (msg: string): never => {
      throw new TemplateError(file, line, msg);
    };
    if (!legacy) {
      for (const k of Object.keys(given)) {
        if (!decls.some((d) => d.name === k)) err(`Unexpected parameter '${k}' (declared: ${decls.map((d) => d.name).join(', ')})`);
      }
    }
    const out: Record<string, Value> = legacy ? { ...given } : {};
    for (const d of decls) {
      const has = Object.prototype.hasOwnProperty.call(given, d.name);
      if (!has && !d.hasDefault) err(`A value for the '${d.name}' parameter must be provided.`);
      const v = has ? given[d.name]! : d.default!;
      out[d.name] = this.coerce(file, line, d, v);
    }
    return out;
  }

  private coerce(file: string, line: number, d: ParameterDecl, v: Value): Value {
    const err = (what: string): never => {
      throw new TemplateError(file, line, `The '${d.name}' parameter value ${describe(v)} is not a valid ${what}.`);
    };
    const isObj = (x: Value) => x !== null && typeof x === 'object' && !Array.isArray(x);
    let out: Value = v;
    switch (d.type) {
      case 'string':
        if (v !== null && typeof v === 'object') err('String');
        out = toStr(v);
        break;
      case 'number': {
        const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
        if (Number.isNaN(n)) err('Number');
        out = n;
        break;
      }
      case 'boolean':
        if (typeof v === 'boolean') out = v;
        else if (typeof v === 'string' && /^(true|false)$/i.test(v.trim())) out = v.trim().toLowerCase() === 'true';
        else err('Boolean');
        break;
      case 'step':
      case 'job':
      case 'deployment':
      case 'stage':
      case 'container':
        if (!isObj(v)) err(d.type);
        break;
      case 'stepList':
      case 'jobList':
      case 'deploymentList':
      case 'stageList':
      case 'containerList':
        if (v === '' || v === null) out = [];
        else if (!Array.isArray(v) || !v.every(isObj)) err(d.type);
        break;
      default:
        break;
    }
    if (d.values && !d.values.includes(toStr(out as Value))) {
      throw new TemplateError(
        file,
        line,
        `The '${d.name}' parameter value ${describe(v)} is not a valid value. Allowed values: ${d.values.join(', ')}.`,
      );
    }
    const schemaKind = (
      {
        step: 'step',
        stepList: 'steps',
        job: 'job',
        jobList: 'jobs',
        deployment: 'job',
        deploymentList: 'jobs',
        stage: 'stage',
        stageList: 'stages',
      } as const
    )[d.type as 'step'];
    if (schemaKind && this.opts.checkParameterValue) {
      const problems = this.opts.checkParameterValue(schemaKind, out);
      if (problems.length)
        throw new TemplateError(
          file,
          line,
          `The '${d.name}' parameter value is not a valid ${d.type}:${problems.map((p) => `\n  ${p}`).join('')}`,
        );
    }
    return out;
  }

  /** Expand a steps, jobs or stages template with the given parameters. */
  expandTemplate(abs: string, given: Record<string, Value>, from?: Origin): ExpandedTemplate {
    const f = this.load(abs, from);
    if (!isMap(f.root)) this.fail(f, f.root, 'a template must be a mapping');
    const root = f.root;
    const keys = root.items.map((p) => String((p.key as { value?: unknown }).value));
    if (keys.includes('extends')) this.fail(f, root, 'templates that extend another template are not supported by this validator');
    const kinds = LIST_KINDS.filter((k) => keys.includes(k)) as ListKind[];
    if (kinds.length !== 1)
      this.fail(f, root, `a template must have exactly one of steps, jobs or stages (found: ${kinds.join(', ') || 'none'})`);
    const paramsPair = root.items.find((p) => (p.key as { value?: unknown }).value === 'parameters');
    const decls = this.declarations(f, paramsPair?.value as YNode | undefined);
    const legacy = !!paramsPair && isMap(paramsPair.value);
    const parameters = this.bind(from ? from.file : f.rel, from ? from.line : 1, decls, given, legacy);
    // Errors in the bound values are the caller's; errors in the body are the template's.
    const body = this.map({ f, scope: { parameters } }, root, ['parameters']);
    return { file: f.rel, kind: kinds[0]!, decls, parameters, body };
  }

  /** Expand a pipeline file (with `extends`, or stages/jobs/steps) into the pipeline the service runs. */
  expandPipeline(abs: string, runtimeParameters: Record<string, Value> = {}): Record<string, Value> {
    const f = this.load(abs);
    if (!isMap(f.root)) this.fail(f, f.root, 'a pipeline must be a mapping');
    const paramsPair = f.root.items.find((p) => (p.key as { value?: unknown }).value === 'parameters');
    const decls = this.declarations(f, paramsPair?.value as YNode | undefined);
    const parameters = this.bind(f.rel, 1, decls, runtimeParameters, false);
    const top = this.map({ f, scope: { parameters } }, f.root, ['parameters']);
    const repos = (top.resources as { repositories?: unknown } | undefined)?.repositories;
    this.declaredRepositories = new Set([
      'self',
      ...(Array.isArray(repos) ? repos.map((r) => String((r as { repository?: unknown })?.repository ?? '')).filter(Boolean) : []),
    ]);
    const ext = top.extends;
    if (ext === undefined) return top;
    if (ext === null || typeof ext !== 'object' || Array.isArray(ext) || typeof ext.template !== 'string') {
      return this.fail(f, f.root, "'extends' needs a 'template'");
    }
    const extendsNode = f.root.items.find((p) => (p.key as { value?: unknown }).value === 'extends')!.value as YNode;
    const given = (ext.parameters && typeof ext.parameters === 'object' && !Array.isArray(ext.parameters) ? ext.parameters : {}) as Record<
      string,
      Value
    >;
    const t = this.expandTemplate(this.resolvePath(f, extendsNode, ext.template), given, { file: f.rel, line: this.line(f, extendsNode) });
    const out: Record<string, Value> = setOrigin({}, { file: f.rel, line: 1 });
    for (const [k, v] of Object.entries(top)) if (k !== 'extends') out[k] = v;
    for (const [k, v] of Object.entries(t.body)) {
      if (Object.prototype.hasOwnProperty.call(out, k))
        this.fail(f, extendsNode, `'${k}' is set both by the pipeline and by the extended template ${t.file}`);
      out[k] = v;
    }
    return out;
  }

  /** Every conditional directive in a file, expanded or not (for branch coverage). */
  directives(abs: string): Array<{ file: string; line: number; kind: Directive['kind'] }> {
    const f = this.load(abs);
    const out: Array<{ file: string; line: number; kind: Directive['kind'] }> = [];
    const walk = (n: YNode | null | undefined) => {
      if (!n) return;
      if (isMap(n)) {
        for (const p of n.items) {
          const k = p.key as YNode;
          const d = isScalar(k) ? parseDirective(String(k.value)) : undefined;
          if (d) out.push({ file: f.rel, line: this.line(f, k), kind: d.kind });
          walk(p.value as YNode);
        }
      } else if (isSeq(n)) for (const i of n.items) walk(i as YNode);
    };
    walk(f.root);
    return out;
  }
}

function describe(v: Value): string {
  if (v !== null && typeof v === 'object') return Array.isArray(v) ? '(a sequence)' : '(a mapping)';
  return `'${toStr(v)}'`;
}
