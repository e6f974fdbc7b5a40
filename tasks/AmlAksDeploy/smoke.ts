/**
 * The smoke-test expectation, as the smokeTestExpect input promises it: an HTTP status code,
 * optionally followed by `;` and one check on the JSON body, `<jsonPath> <op> <value>` with op
 * `==`, `!=`, `<`, `<=`, `>`, `>=`, or `<jsonPath> in <min>..<max>` for an inclusive range.
 * JSON paths: `$`, then `.name`, `['name']` / `["name"]` and `[index]`.
 * Pure: parsing and evaluation only.
 */
import { inputError } from '../common/errors';
import { msg } from './messages';

export type PathSegment = string | number;
export type CompareOp = '==' | '!=' | '<' | '<=' | '>' | '>=';

export type BodyCheck =
  | { kind: 'compare'; path: PathSegment[]; pathText: string; op: CompareOp; value: unknown; valueText: string }
  | { kind: 'range'; path: PathSegment[]; pathText: string; min: number; max: number };

export interface Expectation {
  status: number;
  check?: BodyCheck;
  /** The input as written, for messages. */
  text: string;
}

const NUMBER = '-?\\d+(?:\\.\\d+)?(?:[eE][-+]?\\d+)?';

const fail = (problem: string): never => {
  throw inputError('smokeTestExpect', problem, msg('SmokeExpectFormatFix'));
};

/** `$.a.b[0]['c d']` -> ['a', 'b', 0, 'c d']. */
export function parseJsonPath(text: string): PathSegment[] {
  if (!text.startsWith('$')) fail(msg('JsonPathNoDollar', text));
  const out: PathSegment[] = [];
  let i = 1;
  while (i < text.length) {
    const rest = text.slice(i);
    let m: RegExpExecArray | null;
    if ((m = /^\.([A-Za-z_$][A-Za-z0-9_$-]*)/.exec(rest))) out.push(m[1]!);
    else if ((m = /^\[(\d+)\]/.exec(rest))) out.push(Number(m[1]));
    else if ((m = /^\['((?:[^'\\]|\\.)*)'\]/.exec(rest)) || (m = /^\["((?:[^"\\]|\\.)*)"\]/.exec(rest)))
      out.push(m[1]!.replace(/\\(.)/g, '$1'));
    else fail(msg('JsonPathUnreadable', text, rest));
    i += m![0].length;
  }
  return out;
}

/** Parse the input (default `200`). */
export function parseExpectation(input: string | undefined): Expectation {
  const text = (input ?? '').trim() || '200';
  const semi = text.indexOf(';');
  const statusText = (semi < 0 ? text : text.slice(0, semi)).trim();
  if (!/^\d{3}$/.test(statusText) || Number(statusText) < 100 || Number(statusText) > 599) fail(msg('SmokeExpectNotStatus', statusText));
  const exp: Expectation = { status: Number(statusText), text };
  if (semi < 0) return exp;
  const checkText = text.slice(semi + 1).trim();
  if (!checkText) fail(msg('SmokeExpectEmptyCheck'));
  if (checkText.includes(';')) fail(msg('SmokeExpectTwoChecks', checkText));
  let m: RegExpExecArray | null;
  if ((m = new RegExp(`^(\\$\\S*)\\s+in\\s+(${NUMBER})\\s*\\.\\.\\s*(${NUMBER})$`).exec(checkText))) {
    const [min, max] = [Number(m[2]), Number(m[3])];
    if (min > max) fail(msg('SmokeExpectEmptyRange', m[2], m[3]));
    exp.check = { kind: 'range', path: parseJsonPath(m[1]!), pathText: m[1]!, min, max };
    return exp;
  }
  if ((m = /^(\$\S*)\s*(==|!=|<=|>=|<|>)\s*(.+)$/.exec(checkText))) {
    const op = m[2] as CompareOp;
    const valueText = m[3]!.trim();
    let value: unknown;
    try {
      value = JSON.parse(valueText);
    } catch {
      // A bare word compares as text: `$.label == cat`.
      if (/^["'[{]/.test(valueText)) fail(msg('SmokeExpectValueNotJson', valueText));
      value = valueText;
    }
    if (op !== '==' && op !== '!=' && typeof value !== 'number') fail(msg('SmokeExpectValueNotNumber', op, valueText));
    exp.check = { kind: 'compare', path: parseJsonPath(m[1]!), pathText: m[1]!, op, value, valueText };
    return exp;
  }
  if (/^\$/.test(checkText)) return fail(msg('SmokeExpectNoOperator', checkText));
  return fail(msg('SmokeExpectNoJsonPath', checkText));
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/** The value at a path, or `missing`. */
export function valueAt(doc: unknown, path: PathSegment[]): { found: true; value: unknown } | { found: false; at: string } {
  let cur = doc;
  let at = '$';
  for (const seg of path) {
    if (typeof seg === 'number') {
      if (!Array.isArray(cur) || seg >= cur.length) return { found: false, at: `${at}[${seg}]` };
      cur = cur[seg];
      at += `[${seg}]`;
    } else {
      if (typeof cur !== 'object' || cur === null || Array.isArray(cur) || !(seg in cur)) return { found: false, at: `${at}.${seg}` };
      cur = (cur as Record<string, unknown>)[seg];
      at += `.${seg}`;
    }
  }
  return { found: true, value: cur };
}

const show = (v: unknown): string => {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
};

export interface Verdict {
  ok: boolean;
  /** One line: what was seen against what was expected. */
  detail: string;
}

/** Judge a response against the expectation. */
export function evaluate(exp: Expectation, status: number, bodyText: string): Verdict {
  if (status !== exp.status) {
    const snippet = bodyText.trim().replace(/\s+/g, ' ').slice(0, 200);
    return {
      ok: false,
      detail: snippet ? msg('SmokeStatusMismatchBody', status, exp.status, snippet) : msg('SmokeStatusMismatch', status, exp.status),
    };
  }
  const c = exp.check;
  if (!c) return { ok: true, detail: msg('SmokeStatus', status) };
  let doc: unknown;
  try {
    doc = JSON.parse(bodyText);
  } catch {
    return { ok: false, detail: msg('SmokeBodyNotJson', status, c.pathText) };
  }
  const got = valueAt(doc, c.path);
  if (!got.found) return { ok: false, detail: msg('SmokeBodyMissingValue', status, got.at, c.pathText) };
  const v = got.value;
  if (c.kind === 'range') {
    if (typeof v !== 'number') return { ok: false, detail: msg('SmokeValueNotNumberForRange', status, c.pathText, show(v), c.min, c.max) };
    const ok = v >= c.min && v <= c.max;
    return {
      ok,
      detail: ok
        ? msg('SmokeValueInRange', status, c.pathText, show(v), c.min, c.max)
        : msg('SmokeValueNotInRange', status, c.pathText, show(v), c.min, c.max),
    };
  }
  let ok: boolean;
  if (c.op === '==' || c.op === '!=') {
    const eq = deepEqual(v, c.value);
    ok = c.op === '==' ? eq : !eq;
  } else {
    if (typeof v !== 'number')
      return { ok: false, detail: msg('SmokeValueNotNumberForCompare', status, c.pathText, show(v), c.op, c.valueText) };
    const x = c.value as number;
    ok = c.op === '<' ? v < x : c.op === '<=' ? v <= x : c.op === '>' ? v > x : v >= x;
  }
  return {
    ok,
    detail: ok
      ? msg('SmokeValuePassed', status, c.pathText, show(v))
      : msg('SmokeValueFailed', status, c.pathText, show(v), c.op, c.valueText),
  };
}

/** The smoke request body from the file's text: JSON, at most 1 MiB. */
export function parseSmokeBody(text: string, file: string): unknown {
  if (Buffer.byteLength(text, 'utf8') > 1024 * 1024)
    throw inputError('smokeTestFile', msg('SmokeFileTooLarge', file), msg('SmokeFileTooLargeFix'));
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  try {
    return JSON.parse(body);
  } catch (e) {
    // V8's message quotes the text; say only where it stopped making sense (the file stays private).
    const at = /at position (\d+)/.exec((e as Error).message);
    const where = at ? lineColumn(body, Number(at[1])) : undefined;
    throw inputError(
      'smokeTestFile',
      where ? msg('SmokeFileNotJsonAt', file, where.line, where.column) : msg('SmokeFileNotJson', file),
      msg('SmokeFileNotJsonFix'),
    );
  }
}

function lineColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset).split('\n');
  return { line: before.length, column: before[before.length - 1]!.length + 1 };
}
