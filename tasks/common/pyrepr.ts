/**
 * Python's text for values, as the Azure ML SDK (Python) writes them into REST bodies: str() of
 * YAML scalars (literal inputs), repr() of floats, and json.dumps(..., sort_keys=True), from
 * which the SDK derives the version of an anonymous component.
 */
import type { Json } from './yaml';

export type PyType = 'integer' | 'number' | 'boolean' | 'string';

/** Python's str() of a YAML scalar, as the CLI sends literal inputs. */
export function pyStr(value: string | number | boolean, source?: string): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (isFloatSource(value, source)) return pyFloatRepr(value);
  if (Number.isSafeInteger(value)) return String(value);
  if (source && /^[-+]?[0-9_]+$/.test(source.trim())) return BigInt(source.trim().replace(/_/g, '')).toString();
  return pyFloatRepr(value);
}

/** The Python type name of a YAML scalar, as the SDK infers component input types. */
export function pyType(value: string | number | boolean, source?: string): PyType {
  if (typeof value === 'string') return 'string';
  if (typeof value === 'boolean') return 'boolean';
  return isFloatSource(value, source) ? 'number' : 'integer';
}

function isFloatSource(value: number, source?: string): boolean {
  if (source !== undefined) return /[.eE]|inf|nan/i.test(source.trim()) && !/^0x/i.test(source.trim());
  return !Number.isInteger(value);
}

/** repr(float) in Python 3: shortest round-trip digits, exponent when exp < -4 or >= 16. */
export function pyFloatRepr(v: number): string {
  if (Number.isNaN(v)) return 'nan';
  if (!Number.isFinite(v)) return v > 0 ? 'inf' : '-inf';
  if (v === 0) return Object.is(v, -0) ? '-0.0' : '0.0';
  const [mant, expText] = v.toExponential().split('e') as [string, string];
  const exp = Number(expText);
  const neg = mant.startsWith('-');
  const digits = mant.replace('-', '').replace('.', '');
  let out: string;
  if (exp < -4 || exp >= 16) {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    out = `${m}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  } else if (exp < 0) {
    out = `0.${'0'.repeat(-exp - 1)}${digits}`;
  } else if (digits.length <= exp + 1) {
    out = `${digits}${'0'.repeat(exp + 1 - digits.length)}.0`;
  } else {
    out = `${digits.slice(0, exp + 1)}.${digits.slice(exp + 1)}`;
  }
  return neg ? `-${out}` : out;
}

/** json.dumps(value, sort_keys=True): ", " and ": " separators, non-ASCII as \uXXXX, floats as repr(). */
export function pyJsonDumps(v: Json): string {
  if (v === null) return 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : pyFloatRepr(v);
  if (typeof v === 'string') return pyJsonString(v);
  if (Array.isArray(v)) return `[${v.map(pyJsonDumps).join(', ')}]`;
  const keys = Object.keys(v).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${keys.map((k) => `${pyJsonString(k)}: ${pyJsonDumps(v[k]!)}`).join(', ')}}`;
}

function pyJsonString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const ch = s[i]!;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\b') out += '\\b';
    else if (ch === '\f') out += '\\f';
    else if (c < 0x20 || c > 0x7f) out += `\\u${c.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}
