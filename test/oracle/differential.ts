/**
 * The differential translation suite's machinery: the corpus (test/fixtures/corpus, every row of a
 * SOURCES.md whose role is `job`), the official SDK run as an oracle (py/oracle_translate.py on
 * /usr/bin/python3 with azure-ai-ml from Debian's python3-azure), the normalisation of both sides
 * (ids, upload URIs and content hashes become names of what they stand for; an anonymous
 * component's id becomes its normalised spec, so one diff covers job and components), and the
 * comparison against the one reviewed allow-list (allow-list.json).
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Json, JsonObject } from '../../tasks/AmlPipelineJob/plan';
import { workspaceId, type Recorded, type Scope } from './ours';

export const CORPUS = path.resolve(__dirname, '..', 'fixtures', 'corpus');
export const ORACLE_PY = path.join(__dirname, 'py');
export const PYTHON = '/usr/bin/python3';
export const SCOPE: Scope = { subscription: '00000000-0000-0000-0000-000000000000', resourceGroup: 'rg', workspace: 'ws' };

export interface CorpusJob {
  /** The repository folder `<owner>+<repo>` (the job's root). */
  root: string;
  /** Path inside it, as SOURCES.md lists it. */
  rel: string;
  file: string;
}

/** Every job YAML of the corpus, in SOURCES.md order. */
export function corpusJobs(): CorpusJob[] {
  const out: CorpusJob[] = [];
  for (const repo of fs.readdirSync(CORPUS).sort()) {
    const sources = path.join(CORPUS, repo, 'SOURCES.md');
    if (!fs.existsSync(sources)) continue;
    for (const line of fs.readFileSync(sources, 'utf8').split('\n')) {
      const cells = line.split('|').map((c) => c.trim());
      if (cells[4] !== 'job') continue;
      const rel = cells[3]!.replace(/`/g, '');
      out.push({ root: path.join(CORPUS, repo), rel, file: path.join(CORPUS, repo, rel) });
    }
  }
  return out;
}

export interface OracleResult extends Recorded {
  file: string;
  ok: boolean;
  error?: string;
  trace?: string;
  body?: { properties: JsonObject };
  name?: string;
}

/**
 * Runs a script of py/ on /usr/bin/python3 with the SDK's path (py/ holds the pydash stand-in
 * azure-ai-ml 1.4.0 needs): `input` as JSON on stdin, the JSON document it prints on stdout is the
 * result. Asynchronous, so an emulator in the same process keeps answering the script. Rejects
 * (never skips) when python3 or azure.ai.ml is missing: CI installs python3-azure (see .ci/run),
 * and a suite that ran nothing proves nothing.
 */
export async function runSdkScript<T>(
  script: string,
  input: unknown,
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<T> {
  if (!fs.existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: apt-get install -y python3 python3-azure (see .ci/run)`);
  const child = spawn(PYTHON, [path.join(ORACLE_PY, script)], {
    env: { ...process.env, ...opts.env, PYTHONPATH: ORACLE_PY, PYTHONDONTWRITEBYTECODE: '1' },
    cwd: opts.cwd ?? CORPUS,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const out: Buffer[] = [];
  let err = '';
  child.stdout.on('data', (c: Buffer) => out.push(c));
  child.stderr.on('data', (c: Buffer) => (err = (err + c.toString('utf8')).slice(-20000)));
  child.stdin.end(JSON.stringify(input));
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 300_000);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (c, s) => resolve([c, s]));
  }).finally(() => clearTimeout(timer));
  if (code !== 0)
    throw new Error(
      `${script} failed (exit ${code}${signal ? `, ${signal}` : ''}; is python3-azure installed? see .ci/run):\n${err.slice(-3000)}`,
    );
  return JSON.parse(Buffer.concat(out).toString('utf8')) as T;
}

/** The SDK's translation of each file (py/oracle_translate.py, no service calls). */
export function runOracle(files: Array<{ file: string; override?: JsonObject[] }>): Promise<OracleResult[]> {
  return runSdkScript<OracleResult[]>('oracle_translate.py', {
    files,
    scope: { subscription: SCOPE.subscription, resourceGroup: SCOPE.resourceGroup, workspace: SCOPE.workspace },
  });
}

// ---------------------------------------------------------------------------------------------
// Normalisation

const rel = (root: string, p: string): string => path.relative(root, p).split(path.sep).join('/');

/** Name every id and URI that depends on where or how it was stored by what it stands for. */
export function normaliser(root: string, rec: Recorded): (v: Json) => Json {
  const base = workspaceId(SCOPE);
  const codes = new Map<string, string>();
  for (const c of rec.codes)
    codes.set(c.hash, /COMPONENT_PLACEHOLDER$/.test(c.path) ? '<code:PLACEHOLDER>' : `<code:${rel(root, c.path)}>`);
  const components = new Map<string, JsonObject>();
  for (const c of rec.components)
    components.set(`${base}/components/${c.name}/versions/${c.version}`, (c.body.properties as JsonObject).componentSpec as JsonObject);
  const seen = new Set<string>();
  const norm = (v: Json): Json => {
    if (Array.isArray(v)) return v.map(norm);
    if (v !== null && typeof v === 'object') {
      const o: JsonObject = {};
      for (const k of Object.keys(v).sort()) if (v[k] !== null && v[k] !== undefined) o[k] = norm(v[k]!);
      return o;
    }
    if (typeof v !== 'string') return v;
    const s = v.replace(/^azureml:(?=\/subscriptions\/)/, '');
    const spec = components.get(s);
    if (spec && !seen.has(s)) {
      seen.add(s);
      const out = norm(spec);
      seen.delete(s);
      return { '<anonymous component>': out };
    }
    let m: RegExpExecArray | null;
    if ((m = /\/codes\/([^/]+)\/versions\/1$/.exec(s)) && s.startsWith(base)) return codes.get(m[1]!) ?? `<code:${m[1]}>`;
    // The folder's name and content hash stay: the same content must land in the same folder as the CLI's.
    if ((m = /^azureml:\/\/datastores\/([^/]+)\/paths\/LocalUpload\/([^/]+)\/(.*)$/.exec(v)))
      return `<LocalUpload ${m[1]}:${m[2]!.slice(0, 8)}/${m[3]}>`;
    if ((m = /^https:\/\/uploaded\.example\/LocalUpload\/([^/]+)\/(.*)$/.exec(v)))
      return `<LocalUpload workspaceblobstore:${m[1]!.slice(0, 8)}/${m[2]}>`;
    if (s.startsWith(`${base}/`)) return `<ws>/${s.slice(base.length + 1)}`;
    return v;
  };
  return norm;
}

// ---------------------------------------------------------------------------------------------
// Comparison

export interface Difference {
  path: string;
  ours: Json | undefined;
  sdk: Json | undefined;
}

export function differences(ours: Json | undefined, sdk: Json | undefined, at = ''): Difference[] {
  if (JSON.stringify(ours) === JSON.stringify(sdk)) return [];
  const isObj = (x: unknown): x is JsonObject => x !== null && typeof x === 'object' && !Array.isArray(x);
  if (isObj(ours) && isObj(sdk)) {
    const keys = [...new Set([...Object.keys(ours), ...Object.keys(sdk)])].sort();
    return keys.flatMap((k) => differences(ours[k], sdk[k], at ? `${at}.${k}` : k));
  }
  return [{ path: at, ours, sdk }];
}

export interface AllowEntry {
  id: string;
  /** Regular expression the difference's path must match. */
  path: string;
  /** Regular expressions over JSON.stringify of our value and the SDK's ("undefined" when absent). */
  ours?: string;
  sdk?: string;
  /** Only for these corpus files (substring of the path in SOURCES.md). */
  files?: string[];
  reason: string;
}

export const ALLOW_LIST = path.join(__dirname, 'allow-list.json');

/** The SDK needs a change to load a file the current SDK loads: the same change is made on our side. */
export interface SdkOverride {
  files: string[];
  override: JsonObject;
  /** The same change as AmlPipelineJob's `overrides` input lines. */
  ours: string;
  reason: string;
}

/** A file we refuse (before any upload) where the SDK sends it on. */
export interface Refusal {
  file: string;
  ours: string;
  reason: string;
}

/**
 * A corpus job azure-ai-ml 1.4.0 cannot submit to the emulator (sdk-client.test.ts) although the
 * emulator answers as Azure does: 1.4.0 is outdated there, or the file cannot run anywhere.
 */
export interface SdkClientFailure {
  /** Substrings of the corpus paths (as SOURCES.md lists them) it is about. */
  files: string[];
  /** Regular expression the client's error must match. */
  error: string;
  reason: string;
}

export interface AllowList {
  sdkOverrides: SdkOverride[];
  refusals: Refusal[];
  sdkClient: SdkClientFailure[];
  entries: AllowEntry[];
}

export function loadAllowList(): AllowList {
  return JSON.parse(fs.readFileSync(ALLOW_LIST, 'utf8')) as AllowList;
}

/** The SDK override the allow-list gives a corpus job, if any. */
export function sdkOverrideFor(allow: AllowList, j: CorpusJob): SdkOverride | undefined {
  return allow.sdkOverrides.find((o) => o.files.some((f) => j.rel.includes(f)));
}

/** An override as load_job's params_override: one single-key object per setting. */
export function paramsOverride(o: SdkOverride | undefined): JsonObject[] | undefined {
  return o ? Object.entries(o.override).map(([k, v]) => ({ [k]: v })) : undefined;
}

export function allowedBy(entries: AllowEntry[], file: string, d: Difference): AllowEntry | undefined {
  const text = (v: Json | undefined) => (v === undefined ? 'undefined' : JSON.stringify(v));
  return entries.find(
    (e) =>
      new RegExp(e.path).test(d.path) &&
      (e.ours === undefined || new RegExp(e.ours).test(text(d.ours))) &&
      (e.sdk === undefined || new RegExp(e.sdk).test(text(d.sdk))) &&
      (e.files === undefined || e.files.some((f) => file.includes(f))),
  );
}

/** A result's job body, normalised; the display name the job name gave it is named so. */
export function normalisedBody(root: string, r: Recorded & { body?: { properties: JsonObject }; name?: string }): Json {
  const props = { ...r.body!.properties };
  if (r.name !== undefined && props.displayName === r.name) props.displayName = '<the job name>';
  return normaliser(root, r)(props);
}
