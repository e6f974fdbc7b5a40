/**
 * Azure Pipelines template expressions (`${{ ... }}`), the subset our templates and tests use.
 *
 * Supported, with the service's documented semantics:
 *  - literals: 'strings' (with '' as an escaped quote), numbers, true, false, null;
 *  - named values: `parameters` and loop variables bound by `${{ each }}`; property access with
 *    `.name` and `['name']`, array indexes with `[0]`; a missing property is null;
 *  - functions: and, or, not, xor, eq, ne, gt, ge, lt, le, in, notIn, contains, containsValue,
 *    startsWith, endsWith, coalesce, format, join, length, lower, upper, replace, split, iif,
 *    convertToJson. Comparisons convert the right operand to the type of the left one and compare
 *    strings ordinally ignoring case, as the service does.
 *
 * Not supported (reported as an error naming the construct, never silently ignored): compile-time
 * `variables[...]`, other named values (`resources`, `pipeline`), the `*` filter, operators other
 * than function calls (the language has none), version literals, runtime functions (`counter`,
 * `succeeded`, ... belong in `$[ ]` and `condition:`, which are not template expressions).
 */

export type Value = null | boolean | number | string | Value[] | { [key: string]: Value };

export class ExpressionError extends Error {}

type Node =
  | { kind: 'literal'; value: Value }
  | { kind: 'name'; name: string }
  | { kind: 'index'; target: Node; index: Node }
  | { kind: 'call'; fn: string; args: Node[] };

type Token =
  { t: 'str'; v: string } | { t: 'num'; v: number } | { t: 'id'; v: string } | { t: 'punct'; v: '(' | ')' | '[' | ']' | ',' | '.' };

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === "'") {
      let v = '';
      i++;
      for (;;) {
        if (i >= src.length) throw new ExpressionError(`unterminated string in '${src}'`);
        if (src[i] === "'") {
          if (src[i + 1] === "'") {
            v += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        v += src[i++];
      }
      out.push({ t: 'str', v });
    } else if (/[0-9]/.test(c) || (c === '-' && /[0-9]/.test(src[i + 1] ?? ''))) {
      const m = /^-?[0-9]+(\.[0-9]+)?/.exec(src.slice(i))!;
      if (/^[0-9.]*\.[0-9]+\.[0-9]/.test(src.slice(i))) throw new ExpressionError(`version literals are not supported: '${src}'`);
      out.push({ t: 'num', v: Number(m[0]) });
      i += m[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_-]*/.exec(src.slice(i))!;
      out.push({ t: 'id', v: m[0] });
      i += m[0].length;
    } else if ('()[],.'.includes(c)) {
      out.push({ t: 'punct', v: c as '(' });
      i++;
    } else if (c === '*') {
      throw new ExpressionError(`the '*' filter is not supported by this validator: '${src}'`);
    } else {
      throw new ExpressionError(
        `unexpected character '${c}' in '${src}' (template expressions have no operators; use functions such as eq(), and(), not())`,
      );
    }
  }
  return out;
}

export function parseExpression(src: string): Node {
  const toks = tokenize(src);
  let p = 0;
  const peek = () => toks[p];
  const expect = (v: string) => {
    const t = toks[p++];
    if (!t || t.t !== 'punct' || t.v !== v) throw new ExpressionError(`expected '${v}' in '${src}'`);
  };
  function primary(): Node {
    const t = toks[p++];
    if (!t) throw new ExpressionError(`unexpected end of expression '${src}'`);
    if (t.t === 'str') return { kind: 'literal', value: t.v };
    if (t.t === 'num') return { kind: 'literal', value: t.v };
    if (t.t === 'id') {
      const next = peek();
      if (next?.t === 'punct' && next.v === '(') {
        p++;
        const args: Node[] = [];
        if (!(peek()?.t === 'punct' && (peek() as { v: string }).v === ')')) {
          for (;;) {
            args.push(postfix());
            const s = toks[p++];
            if (s?.t === 'punct' && s.v === ',') continue;
            if (s?.t === 'punct' && s.v === ')') break;
            throw new ExpressionError(`expected ',' or ')' in '${src}'`);
          }
        } else p++;
        return { kind: 'call', fn: t.v, args };
      }
      if (t.v === 'true') return { kind: 'literal', value: true };
      if (t.v === 'false') return { kind: 'literal', value: false };
      if (t.v === 'null') return { kind: 'literal', value: null };
      return { kind: 'name', name: t.v };
    }
    throw new ExpressionError(`unexpected '${t.v}' in '${src}'`);
  }
  function postfix(): Node {
    let n = primary();
    for (;;) {
      const t = peek();
      if (t?.t === 'punct' && t.v === '.') {
        p++;
        const id = toks[p++];
        if (!id || id.t !== 'id') throw new ExpressionError(`expected a property name after '.' in '${src}'`);
        n = { kind: 'index', target: n, index: { kind: 'literal', value: id.v } };
      } else if (t?.t === 'punct' && t.v === '[') {
        p++;
        const idx = postfix();
        expect(']');
        n = { kind: 'index', target: n, index: idx };
      } else return n;
    }
  }
  const n = postfix();
  if (p !== toks.length) throw new ExpressionError(`unexpected '${(toks[p] as { v: unknown }).v}' after a complete expression in '${src}'`);
  return n;
}

// ---- conversions (the service's rules) -------------------------------------------------------

export function truthy(v: Value): boolean {
  if (v === null) return false;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0 && !Number.isNaN(v);
  if (typeof v === 'string') return v.length > 0;
  return true;
}

/** String form, as the service renders a value inside a string or as a scalar: booleans are True/False. */
export function toStr(v: Value, what = 'value'): string {
  if (v === null) return '';
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') return v;
  throw new ExpressionError(`cannot convert ${Array.isArray(v) ? 'a sequence' : 'a mapping'} to a string (${what})`);
}

function toNum(v: Value): number | undefined {
  if (v === null) return 0;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'number') return v;
  if (typeof v === 'string') {
    const s = v.trim();
    if (s === '') return 0;
    const n = Number(s);
    return Number.isNaN(n) ? undefined : n;
  }
  return undefined;
}

/** Compare with the right operand converted to the left's type; undefined when not comparable. */
function compare(l: Value, r: Value): number | undefined {
  if (typeof l === 'string') {
    if (r !== null && typeof r === 'object') return undefined;
    const a = l.toUpperCase();
    const b = toStr(r).toUpperCase();
    return a < b ? -1 : a > b ? 1 : 0;
  }
  if (typeof l === 'number') {
    const b = toNum(r);
    if (b === undefined) return undefined;
    return l < b ? -1 : l > b ? 1 : 0;
  }
  if (typeof l === 'boolean') {
    const b = truthy(r);
    return l === b ? 0 : l ? 1 : -1;
  }
  if (l === null) return r === null ? 0 : undefined;
  return l === r ? 0 : undefined; // arrays and mappings: reference equality only
}

const eq = (l: Value, r: Value) => compare(l, r) === 0;

export const SUPPORTED_FUNCTIONS = [
  'and',
  'or',
  'not',
  'xor',
  'eq',
  'ne',
  'gt',
  'ge',
  'lt',
  'le',
  'in',
  'notIn',
  'contains',
  'containsValue',
  'startsWith',
  'endsWith',
  'coalesce',
  'format',
  'join',
  'length',
  'lower',
  'upper',
  'replace',
  'split',
  'iif',
  'convertToJson',
];

function call(fn: string, args: Value[], src: string): Value {
  const n = (min: number, max = min) => {
    if (args.length < min || args.length > max)
      throw new ExpressionError(`${fn}() takes ${min === max ? min : `${min} to ${max}`} arguments, got ${args.length} in '${src}'`);
  };
  const str = (v: Value) => toStr(v, `argument of ${fn}()`);
  switch (fn) {
    case 'and':
      n(2, 99);
      return args.every(truthy);
    case 'or':
      n(2, 99);
      return args.some(truthy);
    case 'not':
      n(1);
      return !truthy(args[0]!);
    case 'xor':
      n(2);
      return truthy(args[0]!) !== truthy(args[1]!);
    case 'eq':
      n(2);
      return eq(args[0]!, args[1]!);
    case 'ne':
      n(2);
      return !eq(args[0]!, args[1]!);
    case 'gt':
      n(2);
      return (compare(args[0]!, args[1]!) ?? 0) > 0;
    case 'ge':
      n(2);
      return (compare(args[0]!, args[1]!) ?? -1) >= 0;
    case 'lt':
      n(2);
      return (compare(args[0]!, args[1]!) ?? 0) < 0;
    case 'le':
      n(2);
      return (compare(args[0]!, args[1]!) ?? 1) <= 0;
    case 'in':
      n(1, 99);
      return args.slice(1).some((r) => eq(args[0]!, r));
    case 'notIn':
      n(1, 99);
      return !args.slice(1).some((r) => eq(args[0]!, r));
    case 'contains': {
      n(2);
      const [h, x] = args as [Value, Value];
      if (Array.isArray(h)) return h.some((e) => eq(e, x));
      return str(h).toUpperCase().includes(str(x).toUpperCase());
    }
    case 'containsValue': {
      n(2);
      const [h, x] = args as [Value, Value];
      if (Array.isArray(h)) return h.some((e) => eq(e, x));
      if (h !== null && typeof h === 'object') return Object.values(h).some((e) => eq(e, x));
      throw new ExpressionError(`containsValue() needs a sequence or mapping in '${src}'`);
    }
    case 'startsWith':
      n(2);
      return str(args[0]!).toUpperCase().startsWith(str(args[1]!).toUpperCase());
    case 'endsWith':
      n(2);
      return str(args[0]!).toUpperCase().endsWith(str(args[1]!).toUpperCase());
    case 'coalesce':
      n(1, 99);
      return args.find((a) => a !== null && a !== '') ?? null;
    case 'format': {
      n(1, 99);
      const rest = args.slice(1);
      return str(args[0]!).replace(/\{\{|\}\}|\{(\d+)\}/g, (m, i: string | undefined) => {
        if (m === '{{') return '{';
        if (m === '}}') return '}';
        const k = Number(i);
        if (k >= rest.length) throw new ExpressionError(`format() has no argument {${k}} in '${src}'`);
        return str(rest[k]!);
      });
    }
    case 'join': {
      n(2);
      const [sep, list] = args as [Value, Value];
      if (!Array.isArray(list)) return list === null ? '' : str(list);
      return list.map(str).join(str(sep));
    }
    case 'length': {
      n(1);
      const v = args[0]!;
      if (typeof v === 'string' || Array.isArray(v)) return v.length;
      if (v !== null && typeof v === 'object') return Object.keys(v).length;
      throw new ExpressionError(`length() needs a string, sequence or mapping in '${src}'`);
    }
    case 'lower':
      n(1);
      return str(args[0]!).toLowerCase();
    case 'upper':
      n(1);
      return str(args[0]!).toUpperCase();
    case 'replace':
      n(3);
      return str(args[0]!).split(str(args[1]!)).join(str(args[2]!));
    case 'split':
      n(2);
      return str(args[0]!).split(str(args[1]!));
    case 'iif':
      n(3);
      return truthy(args[0]!) ? args[1]! : args[2]!;
    case 'convertToJson':
      n(1);
      return JSON.stringify(args[0], null, 2);
    default:
      throw new ExpressionError(
        `function '${fn}' is not supported by this validator (supported: ${SUPPORTED_FUNCTIONS.join(', ')}) in '${src}'`,
      );
  }
}

export function evaluate(src: string, scope: Record<string, Value>): Value {
  const ast = parseExpression(src);
  const ev = (n: Node): Value => {
    switch (n.kind) {
      case 'literal':
        return n.value;
      case 'name':
        if (Object.prototype.hasOwnProperty.call(scope, n.name)) return scope[n.name]!;
        if (n.name === 'variables')
          throw new ExpressionError(
            `compile-time 'variables' are not supported by this validator: '${src}' (use parameters, or a runtime condition)`,
          );
        throw new ExpressionError(`unknown name '${n.name}' in '${src}' (known: ${Object.keys(scope).join(', ')})`);
      case 'index': {
        const t = ev(n.target);
        const i = ev(n.index);
        if (t === null || typeof t !== 'object') return null;
        if (Array.isArray(t)) {
          const k = toNum(i);
          return k !== undefined && Number.isInteger(k) && k >= 0 && k < t.length ? t[k]! : null;
        }
        // Property names are case-insensitive in the service.
        const key = toStr(i);
        if (Object.prototype.hasOwnProperty.call(t, key)) return t[key]!;
        const found = Object.keys(t).find((k) => k.toUpperCase() === key.toUpperCase());
        return found === undefined ? null : t[found]!;
      }
      case 'call':
        return call(n.fn, n.args.map(ev), src);
    }
  };
  return ev(ast);
}

/** The `${{ ... }}` segments of a string, with their bounds; quoted `}}` inside strings are skipped. */
export function findExpressions(s: string): Array<{ start: number; end: number; expr: string }> {
  const out: Array<{ start: number; end: number; expr: string }> = [];
  let i = 0;
  for (;;) {
    const start = s.indexOf('${{', i);
    if (start < 0) return out;
    let j = start + 3;
    let inStr = false;
    for (; j < s.length; j++) {
      if (s[j] === "'") inStr = !inStr;
      else if (!inStr && s[j] === '}' && s[j + 1] === '}') break;
    }
    if (j >= s.length) throw new ExpressionError(`unterminated '\${{' in '${s}'`);
    out.push({ start, end: j + 2, expr: s.slice(start + 3, j).trim() });
    i = j + 2;
  }
}
