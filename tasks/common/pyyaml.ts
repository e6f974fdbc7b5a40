/**
 * YAML text as PyYAML's `yaml.dump(value, sort_keys=True)` writes it, for the block-style
 * subset conda files use (mappings, lists, strings, numbers, booleans, null). The Azure ML SDK
 * sends an inline environment's conda file this way and derives the anonymous environment's
 * version from that text, so the same text gives the same environment as `az ml job create`.
 */
import type { Json } from './yaml';
import { pyFloatRepr } from './pyrepr';

// PyYAML's implicit resolvers (YAML 1.1): a plain scalar matching one would read back as another type.
const IMPLICIT = [
  /^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$/,
  /^(?:~|null|Null|NULL)$/,
  /^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$/,
  /^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9_]+(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/,
  /^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$/,
  /^(?:<<|=)$/,
];

function plainAllowed(s: string): boolean {
  if (s === '' || /^\s|\s$/.test(s) || !/^[\x20-\x7e]*$/.test(s)) return false;
  if (/^[,[\]{}#&*!|>'"%@`]/.test(s)) return false;
  if (/^[-?:](\s|$)/.test(s)) return false;
  if (/: |:$| #/.test(s)) return false;
  return !IMPLICIT.some((re) => re.test(s));
}

function scalar(s: string): string {
  if (plainAllowed(s)) return s;
  if (/^[\x20-\x7e]*$/.test(s)) return `'${s.replace(/'/g, "''")}'`;
  // Double-quoted, non-ASCII escaped (PyYAML's default allow_unicode=False).
  const esc = [...s]
    .map((c) => {
      const n = c.codePointAt(0)!;
      if (c === '"' || c === '\\') return `\\${c}`;
      if (c === '\n') return '\\n';
      if (c === '\t') return '\\t';
      if (n >= 0x20 && n <= 0x7e) return c;
      if (n <= 0xff) return `\\x${n.toString(16).toUpperCase().padStart(2, '0')}`;
      if (n <= 0xffff) return `\\u${n.toString(16).toUpperCase().padStart(4, '0')}`;
      return `\\U${n.toString(16).toUpperCase().padStart(8, '0')}`;
    })
    .join('');
  return `"${esc}"`;
}

function atom(v: Json): string | undefined {
  if (v === null) return 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : pyFloatRepr(v);
  if (typeof v === 'string') return scalar(v);
  if (Array.isArray(v) && v.length === 0) return '[]';
  if (!Array.isArray(v) && Object.keys(v).length === 0) return '{}';
  return undefined;
}

function lines(v: Json, indent: string, out: string[], first?: string): void {
  const a = atom(v);
  if (a !== undefined) {
    out.push(`${first ?? indent}${a}`);
    return;
  }
  if (Array.isArray(v)) {
    v.forEach((item, i) => lines(item, `${indent}  `, out, `${i === 0 && first !== undefined ? first : indent}- `));
    return;
  }
  const keys = Object.keys(v as Record<string, Json>).sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
  keys.forEach((k, i) => {
    const child = (v as Record<string, Json>)[k]!;
    const head = `${i === 0 && first !== undefined ? first : indent}${scalar(k)}:`;
    const ca = atom(child);
    if (ca !== undefined) out.push(`${head} ${ca}`);
    else if (Array.isArray(child)) {
      out.push(head);
      // PyYAML does not indent a list under a mapping key.
      child.forEach((item) => lines(item, `${indent}  `, out, `${indent}- `));
    } else {
      out.push(head);
      lines(child, `${indent}  `, out);
    }
  });
}

/** `yaml.dump(value, sort_keys=True)` for a mapping or list. */
export function pyYamlDump(value: Json): string {
  const out: string[] = [];
  lines(value, '', out);
  return `${out.join('\n')}\n`;
}
