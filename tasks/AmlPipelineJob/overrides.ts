/**
 * The task's `overrides` input: `path=value` lines applied to the job YAML before translation,
 * e.g. `inputs.learning_rate=0.01`, `settings.default_compute=azureml:gpu-cluster`,
 * `jobs.train_job.compute=azureml:big`, `display_name=nightly`.
 * Values are YAML scalars: 0.01 stays a number, true a boolean, "0.01" (quoted) a string.
 */
import { isScalar, parseDocument } from 'yaml';
import { UserError } from '../common/errors';
import { msg } from './messages';
import type { JsonObject } from './plan';
import { dotted, isObj, type LoadedYaml } from '../common/yaml';

export interface Override {
  /** Key path, e.g. ['jobs', 'train', 'compute']. */
  path: string[];
  value: string | number | boolean;
  /** Source text of the value (keeps `1.0` a float when stringified like the CLI). */
  source: string;
  /** 1-based line in the overrides input. */
  line: number;
  /** The line as written (trimmed), for messages. */
  text: string;
}

const SEGMENT = /^[A-Za-z_$][A-Za-z0-9_-]*$/;
/** Keys that would reach JavaScript object internals. */
const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype']);
/** Top-level mappings an override may create when the file has none. */
const CREATABLE_TOP = new Set(['settings', 'tags', 'properties', 'inputs']);

/** Parse `path=value` lines. Blank lines and lines starting with '#' are skipped. */
export function parseOverrides(lines: readonly string[]): Override[] {
  const flat = lines.flatMap((l) => l.split(/\r?\n/));
  const out: Override[] = [];
  const seen = new Map<string, number>();
  flat.forEach((raw, i) => {
    const line = i + 1;
    const text = raw.trim();
    if (text === '' || text.startsWith('#')) return;
    const eq = text.indexOf('=');
    if (eq < 0) {
      throw new UserError(msg('OverrideHasNoEquals', line, text), 'overrides');
    }
    const key = text.slice(0, eq).trim();
    const valueText = text.slice(eq + 1).trim();
    if (key === '') {
      throw new UserError(msg('OverrideHasNoKeyPath', line, text), 'overrides');
    }
    const path = key.split('.');
    if (path.some((s) => !SEGMENT.test(s) || FORBIDDEN.has(s))) {
      throw new UserError(msg('OverrideInvalidKeyPath', line, key), 'overrides');
    }
    if (valueText === '') {
      throw new UserError(msg('OverrideHasNoValue', line, key), 'overrides');
    }
    const doc = parseDocument(valueText, { prettyErrors: false });
    if (doc.errors.length > 0 || !isScalar(doc.contents)) {
      const quoted = valueText.replace(/"/g, '\\"');
      throw new UserError(
        doc.errors.length ? msg('OverrideValueInvalidYaml', line, key, key, quoted) : msg('OverrideValueNotScalar', line, key, key, quoted),
        'overrides',
      );
    }
    const v = doc.contents.value;
    if (v === null || v === undefined) {
      throw new UserError(msg('OverrideIsNull', line, key), 'overrides');
    }
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') {
      throw new UserError(msg('OverrideValueNotSimple', line, key), 'overrides');
    }
    if (typeof v === 'number' && !Number.isFinite(v)) {
      throw new UserError(msg('OverrideNotFinite', line, key), 'overrides');
    }
    const prev = seen.get(key);
    if (prev !== undefined) {
      throw new UserError(msg('OverrideDuplicate', line, key, prev), 'overrides');
    }
    seen.set(key, line);
    out.push({ path, value: v, source: typeof doc.contents.source === 'string' ? doc.contents.source : valueText, line, text });
  });
  return out;
}

/**
 * Apply overrides to the parsed job YAML, in place. Every key on the way must exist and be a
 * mapping; the last key may be new (a new input, setting or tag), except that it may not replace
 * a mapping or a list. The top-level `settings`, `tags`, `properties` and `inputs` mappings are
 * created when the file has none.
 */
export function applyOverrides(doc: LoadedYaml, overrides: readonly Override[]): void {
  for (const o of overrides) {
    let cur: JsonObject = doc.data;
    for (let i = 0; i < o.path.length - 1; i++) {
      const seg = o.path[i]!;
      const next = Object.hasOwn(cur, seg) ? cur[seg] : undefined;
      if (next === undefined || next === null) {
        if (i === 0 && CREATABLE_TOP.has(seg)) {
          const created: JsonObject = {};
          cur[seg] = created;
          cur = created;
          continue;
        }
        const have = Object.keys(cur);
        const at = dotted(o.path.slice(0, i + 1));
        throw new UserError(
          have.length
            ? msg('OverrideMatchesNothingThere', o.line, o.text, at, doc.name, have.slice(0, 12).join(', '))
            : msg('OverrideMatchesNothing', o.line, o.text, at, doc.name),
          'overrides',
        );
      }
      if (!isObj(next)) {
        throw new UserError(
          msg('OverrideThroughSingleValue', o.line, o.text, dotted(o.path.slice(0, i + 1)), doc.name, o.path[i + 1]),
          'overrides',
        );
      }
      cur = next;
    }
    const last = o.path[o.path.length - 1]!;
    const existing = Object.hasOwn(cur, last) ? cur[last] : undefined;
    if (Array.isArray(existing)) throw new UserError(msg('OverrideReplacesList', o.line, o.text, dotted(o.path), doc.name), 'overrides');
    if (isObj(existing)) {
      const first = Object.keys(existing)[0];
      throw new UserError(
        first === undefined
          ? msg('OverrideReplacesMapping', o.line, o.text, dotted(o.path), doc.name)
          : msg('OverrideReplacesMappingExample', o.line, o.text, dotted(o.path), doc.name, dotted([...o.path, first])),
        'overrides',
      );
    }
    cur[last] = o.value;
    doc.overridden.set(dotted(o.path), { line: o.line, text: o.text, source: o.source });
  }
}
