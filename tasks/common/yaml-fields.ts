/**
 * Readers of YAML values shared by every file a task reads (job, component and deployment YAML):
 * text, booleans, whole numbers, mappings and string maps, and the "unknown key, did you mean"
 * check, with the same messages everywhere: a value of the wrong type is refused with the file,
 * line and key, and what to write. Only where the SDK's own schema takes any scalar (string maps
 * of deployment files) is a number or boolean kept as its text.
 */
import { msg } from './messages';
import { isObj, type Json, type JsonObject, type LoadedYaml, type YamlPath } from './yaml';

function levenshtein(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
  }
  return d[a.length]![b.length]!;
}

/** The known key a misspelt one most likely meant: a shared prefix, or at most two edits away. */
export function didYouMean(key: string, known: readonly string[]): string | undefined {
  const low = key.toLowerCase();
  const prefix = known.find((k) => low.length >= 4 && (k.toLowerCase().startsWith(low) || low.startsWith(k.toLowerCase())));
  if (prefix) return prefix;
  let best: string | undefined;
  let score = 3;
  for (const k of known) {
    const s = levenshtein(low, k.toLowerCase());
    if (s < score) {
      score = s;
      best = k;
    }
  }
  return best;
}

/** `problem` says where the key is not supported, e.g. "is not supported by AmlPipelineJob@1 in settings". */
export function refuseUnknown(
  doc: LoadedYaml,
  at: YamlPath,
  key: string,
  known: readonly string[],
  problem: string,
  hints: ReadonlyMap<string, () => string> = new Map(),
): never {
  const hint = hints.get(key);
  if (hint) doc.fail([...at, key], problem, hint());
  const guess = didYouMean(key, known);
  doc.fail([...at, key], problem, guess ? msg('FixDidYouMean', guess, known.join(', ')) : msg('FixRemoveItSupported', known.join(', ')));
}

/** Every key of `o` is one of `known`; a hint can say more about a key than "did you mean". */
export function checkKeys(
  doc: LoadedYaml,
  at: YamlPath,
  o: JsonObject,
  known: readonly string[],
  problem: string = msg('ProblemNotAKeyHere'),
  hints?: ReadonlyMap<string, () => string>,
): void {
  for (const k of Object.keys(o)) if (!known.includes(k)) refuseUnknown(doc, at, k, known, problem, hints);
}

/** Text; with `nonEmpty`, trimmed and not blank. */
export function text(doc: LoadedYaml, at: YamlPath, v: Json | undefined, o: { nonEmpty?: boolean } = {}): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string')
    doc.fail(at, msg('ProblemMustBeTextNot', JSON.stringify(v)), msg('FixQuoteItAs', String(at[at.length - 1]), String(v)));
  if (!o.nonEmpty) return v;
  if (v.trim() === '') doc.fail(at, msg('ProblemMustBeNonEmptyText'), msg('FixWriteTextValue', String(at[at.length - 1])));
  return v.trim();
}

/**
 * A mapping of names to text values (tags, properties, environment variables). The SDK's schemas
 * decide whether a number or boolean is refused (job files: `Dict(values=Str())`) or sent and
 * stored as text (deployment files: an untyped `Dict()`); `scalars: 'text'` is the latter.
 */
export function stringMap(
  doc: LoadedYaml,
  at: YamlPath,
  v: Json | undefined,
  o: { scalars?: 'refuse' | 'text' } = {},
): Record<string, string> | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObj(v)) doc.fail(at, msg('ProblemMustBeMappingOfText'), msg('FixOneNameValuePerLine'));
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v)) {
    if (typeof x === 'string') out[k] = x;
    else if (o.scalars === 'text' && (typeof x === 'number' || typeof x === 'boolean')) out[k] = String(x);
    else
      doc.fail(
        [...at, k],
        msg('ProblemMustBeTextNot', JSON.stringify(x)),
        msg('FixQuoteItAs', k, typeof x === 'object' ? '...' : String(x)),
      );
  }
  return out;
}

export function bool(doc: LoadedYaml, at: YamlPath, v: Json | undefined): boolean | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') doc.fail(at, msg('ProblemMustBeTrueOrFalseNot', JSON.stringify(v)), msg('FixTrueOrFalseWithoutQuotes'));
  return v;
}

/** A mapping; with `keys`, only those keys (an unknown one gets "did you mean"). */
export function mapping(
  doc: LoadedYaml,
  at: YamlPath,
  v: Json | undefined,
  fix?: string,
  keys?: readonly string[],
): JsonObject | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObj(v)) doc.fail(at, msg('ProblemMustBeMapping'), fix ?? (keys ? msg('FixUseTheKeys', keys.join(', ')) : msg('FixOneKeyPerLine')));
  if (keys) checkKeys(doc, at, v, keys);
  return v;
}

/** A whole number of at least `min`, optionally of a unit the message names. */
export function wholeNumber(
  doc: LoadedYaml,
  at: YamlPath,
  v: Json | undefined,
  min = 0,
  unit?: 'seconds' | 'milliseconds',
): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
    const problem =
      unit === 'seconds'
        ? msg('ProblemWholeSeconds', min, JSON.stringify(v))
        : unit === 'milliseconds'
          ? msg('ProblemWholeMilliseconds', min, JSON.stringify(v))
          : msg('ProblemWholeNumber', min, JSON.stringify(v));
    doc.fail(at, problem, msg('FixWriteKeyNumber', String(at[at.length - 1]), Math.max(min, 1)));
  }
  return v;
}
