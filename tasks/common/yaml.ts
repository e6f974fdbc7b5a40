/**
 * Safe YAML loading for Azure ML YAML files (jobs, components, deployments), with line numbers
 * for every message.
 *
 * The file is parsed once with `yaml`'s Document API: syntax errors, duplicate keys, unknown tags
 * and alias bombs become one UserError naming the file and line. Translation then works on plain
 * data (`data`) and asks `where(path)` for the line of a key when it has to refuse something.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node as YamlNode } from 'yaml';
import { firstLine, UserError } from './errors';
import { excerpt, isInside } from './files';
import { msg } from './messages';

/** Plain JSON data, as YAML documents become once loaded. */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export function isObj(v: Json | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Files larger than this are refused before they are parsed. */
export const MAX_YAML_BYTES = 1024 * 1024;
/** Aliases allowed per document before `yaml` reports a resource-exhaustion attack. */
export const MAX_ALIAS_COUNT = 100;

export type YamlPath = ReadonlyArray<string | number>;

/** Where a value set by an override came from, so messages name the override, not the file. */
export interface OverrideOrigin {
  line: number;
  text: string;
}

export interface LoadedYaml {
  /** Absolute path. */
  file: string;
  /** How messages name the file: relative to the root when inside it, else the base name. */
  name: string;
  /** The document as plain data (a mapping). Overrides edit this in place. */
  data: JsonObject;
  /** 1-based line of the key at `path` (or of the nearest ancestor that exists in the file). */
  lineOf(path: YamlPath): number | undefined;
  /** The source text of a scalar (e.g. `1.0`), so numbers keep their int/float nature. */
  sourceOf(path: YamlPath): string | undefined;
  /** Values set by overrides, keyed by dotted path. */
  overridden: Map<string, OverrideOrigin & { source?: string }>;
  /** "pipeline.yml line 12" or "pipeline.yml (override line 2: 'x=y')". */
  where(path: YamlPath): string;
  /** Throws a UserError: `<where>: '<dotted path>' <problem>; <fix>.` */
  fail(path: YamlPath, problem: string, fix?: string): never;
}

export function dotted(p: YamlPath): string {
  return p.map(String).join('.');
}

/** Name a file for messages: relative to `root` with forward slashes when inside it. */
export function displayName(file: string, root?: string): string {
  if (root) {
    if (file !== root && isInside(root, file)) return path.relative(root, file).split(path.sep).join('/');
  }
  return path.basename(file);
}

/** Read and parse a YAML file whose root must be a mapping. */
export function loadYamlFile(file: string, opts: { root?: string; what?: string } = {}): LoadedYaml {
  const name = displayName(file, opts.root);
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    throw new UserError(msg('YamlFileMissing', name, opts.what ?? msg('YamlFileNoun'), file));
  }
  if (st.isDirectory()) throw new UserError(msg('YamlIsFolder', name));
  if (st.size > MAX_YAML_BYTES) {
    throw new UserError(msg('YamlFileTooLarge', name, st.size, MAX_YAML_BYTES));
  }
  const text = fs.readFileSync(file, 'utf8');
  return parseYamlText(text, name, file);
}

/** Parse YAML text (for tests and for files already read). */
export function parseYamlText(text: string, name: string, file = name): LoadedYaml {
  if (Buffer.byteLength(text, 'utf8') > MAX_YAML_BYTES) {
    throw new UserError(msg('YamlTextTooLarge', name, MAX_YAML_BYTES));
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.trim() === '') throw new UserError(msg('YamlFileEmpty', name));
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true, merge: true, strict: true });
  const lineAt = (offset: number | undefined): number | undefined => (offset === undefined ? undefined : lineCounter.linePos(offset).line);
  const at = (line: number | undefined): string => (line ? msg('YamlWhereLine', name, line) : name);

  const first = doc.errors[0];
  if (first) {
    const line = first.linePos?.[0]?.line ?? lineAt(first.pos[0]);
    const quote = first.code === 'MISSING_CHAR' ? /closing (["'])quote/.exec(first.message)?.[1] : undefined;
    if (quote) {
      // The parser notices an unclosed quote where the text ends; name the line that opened it.
      const open = openingQuote(text, first.pos[0], quote);
      if (open !== undefined) {
        throw new UserError(
          quote === '"' ? msg('YamlUnclosedDoubleQuote', at(lineAt(open))) : msg('YamlUnclosedSingleQuote', at(lineAt(open))),
        );
      }
    }
    throw new UserError(msg('YamlSyntaxError', at(line), describeYamlError(first.code, first.message)));
  }
  const tagWarning = doc.warnings.find((w) => w.code === 'TAG_RESOLVE_FAILED');
  if (tagWarning) {
    const line = tagWarning.linePos?.[0]?.line ?? lineAt(tagWarning.pos[0]);
    throw new UserError(msg('YamlUnknownTag', at(line), excerpt(reasonOf(tagWarning.message), 80)));
  }

  let js: unknown;
  try {
    js = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    if (/alias/i.test(reason)) {
      throw new UserError(msg('YamlAliasBomb', name, MAX_ALIAS_COUNT));
    }
    throw new UserError(msg('YamlUnreadable', name, excerpt(reasonOf(reason), 80)));
  }
  if (js === null || typeof js !== 'object' || Array.isArray(js)) {
    const kind =
      js === null ? msg('YamlTopEmpty') : Array.isArray(js) ? msg('YamlTopList') : msg('YamlTopValue', excerpt(JSON.stringify(js)));
    throw new UserError(msg('YamlTopNotMapping', name, kind));
  }
  const data = toJson(js, name) as JsonObject;

  const nodeAt = (p: YamlPath): { node?: YamlNode | null; keyLine?: number | undefined; lastLine?: number | undefined } => {
    let cur: unknown = doc.contents;
    let lastLine = lineAt((doc.contents as YamlNode | null)?.range?.[0]);
    let keyLine: number | undefined;
    for (const seg of p) {
      cur = deref(doc, cur);
      if (isMap(cur)) {
        const pair = cur.items.find((it) => isPair(it) && keyText(it.key) === String(seg));
        if (!pair) return { lastLine };
        keyLine = lineAt((pair.key as YamlNode | null)?.range?.[0]) ?? lastLine;
        lastLine = keyLine;
        cur = pair.value;
      } else if (isSeq(cur) && typeof seg === 'number') {
        const item = cur.items[seg];
        if (item === undefined) return { lastLine };
        keyLine = lineAt((item as YamlNode | null)?.range?.[0]) ?? lastLine;
        lastLine = keyLine;
        cur = item;
      } else {
        return { lastLine };
      }
    }
    return { node: deref(doc, cur) as YamlNode | null, keyLine, lastLine };
  };

  const overridden = new Map<string, OverrideOrigin & { source?: string }>();
  const overrideFor = (p: YamlPath): OverrideOrigin | undefined => {
    for (let i = p.length; i > 0; i--) {
      const o = overridden.get(dotted(p.slice(0, i)));
      if (o) return o;
    }
    return undefined;
  };
  const loaded: LoadedYaml = {
    file,
    name,
    data,
    overridden,
    lineOf: (p) => {
      const { keyLine, lastLine } = nodeAt(p);
      return keyLine ?? lastLine;
    },
    sourceOf: (p) => {
      const o = overridden.get(dotted(p));
      if (o) return o.source;
      const { node } = nodeAt(p);
      return isScalar(node) && typeof node.source === 'string' ? node.source : undefined;
    },
    where: (p) => {
      const o = overrideFor(p);
      if (o) return msg('YamlWhereOverride', name, o.line, o.text);
      return at(loaded.lineOf(p));
    },
    fail: (p, problem, fix) => {
      // A problem may quote a value of the file: at most the first line of it, cut short.
      const said = excerpt(problem, 400);
      const what = p.length ? msg('YamlKeyProblem', dotted(p), said) : said;
      throw new UserError(fix ? msg('YamlProblemWithFix', loaded.where(p), what, fix) : msg('YamlProblem', loaded.where(p), what));
    },
  };
  return loaded;
}

/** Offset of the quote that opens the unterminated scalar ending at `end`. */
function openingQuote(text: string, end: number, quote: string): number | undefined {
  for (let i = Math.min(end, text.length) - 1; i >= 0; i--) {
    if (text[i] !== quote) continue;
    if (quote === '"' && text[i - 1] === '\\') continue;
    if (quote === "'" && (text[i - 1] === "'" || text[i + 1] === "'")) {
      i--;
      continue;
    }
    return i;
  }
  return undefined;
}

function deref(doc: Document, node: unknown): unknown {
  let cur = node;
  for (let i = 0; i < 16 && isAlias(cur); i++) cur = cur.resolve(doc);
  return cur;
}

function keyText(key: unknown): string | undefined {
  if (isScalar(key)) return String(key.value);
  if (key === null || key === undefined) return undefined;
  return typeof key === 'object' ? undefined : String(key);
}

/** The parser's reason without the position it appends (the message names the line itself). */
function reasonOf(s: string): string {
  return firstLine(s)
    .replace(/ at line \d+, column \d+:?$/, '')
    .trim();
}

function describeYamlError(code: string, message: string): string {
  // The parser's words, cut short: a message may quote the file, which stays private.
  const m = excerpt(reasonOf(message), 80);
  switch (code) {
    case 'DUPLICATE_KEY':
      return msg('YamlDuplicateKey', m);
    case 'MULTIPLE_DOCS':
      return msg('YamlMultipleDocuments');
    default:
      return msg('YamlInvalid', m);
  }
}

/** Plain JS from yaml's toJS into Json, refusing values JSON cannot carry. */
function toJson(v: unknown, name: string): Json {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new UserError(msg('YamlNotFinite', name));
    return v;
  }
  if (typeof v === 'bigint') return Number(v);
  if (Array.isArray(v)) return v.map((x) => toJson(x, name));
  if (v instanceof Map) {
    const o: JsonObject = {};
    for (const [k, val] of v) setKey(o, String(k), toJson(val, name), name);
    return o;
  }
  if (v instanceof Set) return [...v].map((x) => toJson(x, name));
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'object') {
    const o: JsonObject = {};
    for (const [k, val] of Object.entries(v as Record<string, unknown>)) setKey(o, k, toJson(val, name), name);
    return o;
  }
  return String(v);
}

function setKey(o: JsonObject, k: string, v: Json, name: string): void {
  if (k === '__proto__') throw new UserError(msg('YamlKeyNotAllowed', name, k));
  // 'constructor' is a real key of Azure ML files (the RAI components' input); as an own data
  // property it shadows nothing a caller relies on and changes no prototype.
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
}

/** What a non-pipeline YAML file looks like, for "this is not a pipeline job" messages. */
export function describeNonPipeline(data: JsonObject): string {
  const type = typeof data.type === 'string' ? data.type : undefined;
  const schema = typeof data.$schema === 'string' ? data.$schema : '';
  const fromSchema = /\/([A-Za-z]+)\.schema\.json$/i.exec(schema)?.[1];
  if (fromSchema && /component/i.test(fromSchema)) return msg('YamlKindComponent', type ?? 'command', fromSchema);
  if (fromSchema && /job/i.test(fromSchema)) return msg('YamlKindJob', type ?? fromSchema.replace(/job$/i, ''), fromSchema);
  if (fromSchema)
    return /^[aeiou]/i.test(fromSchema)
      ? msg('YamlKindDefinitionVowel', fromSchema, fromSchema)
      : msg('YamlKindDefinition', fromSchema, fromSchema);
  if (type === 'command' && ('inputs' in data || 'outputs' in data) && ('version' in data || 'name' in data)) return msg('YamlKindCommand');
  if (type) return msg('YamlKindTyped', type, type);
  if ('channels' in data || 'dependencies' in data) return msg('YamlKindConda');
  if ('steps' in data || 'stages' in data || 'trigger' in data || 'pool' in data || 'parameters' in data)
    return msg('YamlKindAzurePipelines');
  if ('image' in data || 'conda_file' in data || 'build' in data) return msg('YamlKindEnvironment');
  return msg('YamlKindOther');
}
