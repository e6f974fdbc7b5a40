/**
 * Runtime expressions of the rehearsal: `condition:` values and `$[ ... ]` variables, evaluated
 * when the stage, job or step is about to run, and `$( )` macros in inputs. Only what our templates
 * use, with the service's semantics:
 *  - named values `dependencies`, `stageDependencies` and `variables` (property access with `.x`
 *    and `['x']`, case-insensitive, a missing property is null);
 *  - the status functions succeeded(), failed(), succeededOrFailed(), always(), canceled(), with
 *    or without dependency names;
 *  - the comparison and text functions of testkit/yaml-pipeline/expression.ts (eq, ne, and, or, not,
 *    in, contains, startsWith, ..., the same conversions).
 * Anything else (counter(), pipeline.*, resources.*, ...) is refused with an Unsupported error
 * naming the construct and where it was met.
 */
import {
  evaluate,
  ExpressionError,
  parseExpression,
  SUPPORTED_FUNCTIONS,
  toStr,
  truthy,
  type Value,
} from '../../testkit/yaml-pipeline/expression';

export type Result = 'Succeeded' | 'SucceededWithIssues' | 'Failed' | 'Canceled' | 'Skipped';

/** Something the pipeline uses that the rehearsal does not support; `where` names the place. */
export class Unsupported extends Error {
  constructor(
    readonly where: string,
    readonly detail: string,
  ) {
    super(`${where}: ${detail}`);
  }
}

type Node = ReturnType<typeof parseExpression>;

export interface RuntimeScope {
  /** dependencies, stageDependencies, variables (whichever the context has). */
  names: Record<string, Value>;
  /** What the status functions look at: the dependencies (stage, job) or the steps so far (step). */
  statuses: Array<{ name: string; result: Result }>;
  /** For messages: e.g. "stage Deploy condition". */
  where: string;
}

const STATUS_FUNCTIONS = ['succeeded', 'failed', 'succeededOrFailed', 'always', 'canceled'];
/** Functions valid at run time that behave like their compile-time versions. */
const PLAIN_FUNCTIONS = SUPPORTED_FUNCTIONS;

const ok = (r: Result) => r === 'Succeeded' || r === 'SucceededWithIssues';

function lookup(obj: Value, key: string): Value {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return null;
  if (Object.prototype.hasOwnProperty.call(obj, key)) return obj[key]!;
  const k = Object.keys(obj).find((x) => x.toLowerCase() === key.toLowerCase());
  return k === undefined ? null : obj[k]!;
}

export function evaluateRuntime(src: string, scope: RuntimeScope): Value {
  let ast: Node;
  try {
    ast = parseExpression(src);
  } catch (e) {
    if (e instanceof ExpressionError) throw new Unsupported(scope.where, `cannot parse '${src}': ${e.message}`);
    throw e;
  }
  const status = (fn: string, args: Value[]): boolean => {
    let deps = scope.statuses;
    if (args.length) {
      const wanted = args.map((a) => toStr(a).toLowerCase());
      deps = scope.statuses.filter((s) => wanted.includes(s.name.toLowerCase()));
      const missing = wanted.filter((w) => !scope.statuses.some((s) => s.name.toLowerCase() === w));
      if (missing.length)
        throw new Unsupported(
          scope.where,
          `${fn}(${missing.map((m) => `'${m}'`).join(', ')}) names no dependency of this ${scope.where.split(' ')[0]} (dependencies: ${scope.statuses.map((s) => s.name).join(', ') || 'none'})`,
        );
    }
    switch (fn) {
      case 'succeeded':
        return deps.every((d) => ok(d.result));
      case 'failed':
        return deps.some((d) => d.result === 'Failed');
      case 'succeededOrFailed':
        return deps.every((d) => d.result !== 'Canceled');
      case 'always':
        return true;
      default: // canceled(): the rehearsal is never cancelled
        return false;
    }
  };
  const ev = (n: Node): Value => {
    switch (n.kind) {
      case 'literal':
        return n.value;
      case 'name': {
        const v = lookup(scope.names, n.name);
        if (v === null && !Object.keys(scope.names).some((k) => k.toLowerCase() === n.name.toLowerCase())) {
          throw new Unsupported(
            scope.where,
            `'${n.name}' in '${src}' is not supported by the rehearsal here (supported named values: ${Object.keys(scope.names).join(', ')})`,
          );
        }
        return v;
      }
      case 'index': {
        const t = ev(n.target);
        const i = ev(n.index);
        if (Array.isArray(t)) {
          const k = typeof i === 'number' ? i : Number(toStr(i));
          return Number.isInteger(k) && k >= 0 && k < t.length ? t[k]! : null;
        }
        return lookup(t, toStr(i));
      }
      case 'call': {
        if (STATUS_FUNCTIONS.includes(n.fn)) return status(n.fn, n.args.map(ev));
        if (!PLAIN_FUNCTIONS.includes(n.fn)) {
          throw new Unsupported(
            scope.where,
            `function '${n.fn}' in '${src}' is not supported by the rehearsal (supported: ${[...STATUS_FUNCTIONS, ...PLAIN_FUNCTIONS].join(', ')})`,
          );
        }
        const args = n.args.map(ev);
        const names = Object.fromEntries(args.map((a, i) => [`a${i}`, a]));
        try {
          return evaluate(`${n.fn}(${args.map((_, i) => `a${i}`).join(', ')})`, names);
        } catch (e) {
          if (e instanceof ExpressionError) throw new Unsupported(scope.where, e.message.replace(/'[^']*'$/, `'${src}'`));
          throw e;
        }
      }
    }
  };
  return ev(ast);
}

/**
 * Checks an expression before the run: it parses, and uses only supported functions and these
 * named values. Throws Unsupported naming what is not supported.
 */
export function checkRuntimeExpression(src: string, names: string[], where: string): void {
  let ast: Node;
  try {
    ast = parseExpression(src);
  } catch (e) {
    if (e instanceof ExpressionError) throw new Unsupported(where, `cannot parse '${src}': ${e.message}`);
    throw e;
  }
  const walk = (n: Node): void => {
    if (n.kind === 'name' && !names.some((x) => x.toLowerCase() === n.name.toLowerCase())) {
      throw new Unsupported(
        where,
        `'${n.name}' in '${src}' is not supported by the rehearsal here (supported named values: ${names.join(', ')})`,
      );
    }
    if (n.kind === 'index') {
      walk(n.target);
      walk(n.index);
    }
    if (n.kind === 'call') {
      if (!STATUS_FUNCTIONS.includes(n.fn) && !PLAIN_FUNCTIONS.includes(n.fn)) {
        throw new Unsupported(
          where,
          `function '${n.fn}' in '${src}' is not supported by the rehearsal (supported: ${[...STATUS_FUNCTIONS, ...PLAIN_FUNCTIONS].join(', ')})`,
        );
      }
      n.args.forEach(walk);
    }
  };
  walk(ast);
}

/** A condition's verdict; the default for a missing condition is succeeded(). */
export function conditionHolds(condition: string | undefined, scope: RuntimeScope): boolean {
  return truthy(evaluateRuntime(condition?.trim() ? condition : 'succeeded()', scope));
}

/** `$[ expr ]` as a whole value: returns the expression, else undefined. */
export function runtimeExpression(value: string): string | undefined {
  const m = /^\s*\$\[([\s\S]*)\]\s*$/.exec(value);
  return m ? m[1]!.trim() : undefined;
}

/**
 * `$(name)` macros, as the agent expands them in inputs: known variables (case-insensitive) are
 * replaced, unknown ones are left as they are (the agent does the same). Returns the names left.
 */
export function expandMacros(text: string, vars: Map<string, string>): { text: string; unknown: string[] } {
  const unknown: string[] = [];
  const out = text.replace(/\$\(([A-Za-z0-9_.\- ]+)\)/g, (m, name: string) => {
    const v = vars.get(name.toLowerCase());
    if (v === undefined) {
      unknown.push(name);
      return m;
    }
    return v;
  });
  return { text: out, unknown };
}
