/**
 * References to workspace assets written in Azure ML YAML files (jobs, components, deployments):
 * `azureml:name:version`, `azureml:name@latest`, ARM and registry ids, local code folders and
 * inline environments. Local paths are resolved relative to the YAML that names them, must exist,
 * and must stay inside the allowed root (no `../../etc`, no symlink leading out).
 * Pure: files are read, Azure is not called.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { stringify } from 'yaml';
import { dotted, MAX_YAML_BYTES, type Json, type JsonObject, type LoadedYaml, type YamlPath } from '../common/yaml';

/** Where a YAML value came from, for error messages: "pipeline.yml: jobs.train.component". */
export interface Origin {
  file: string;
  path: string;
}

/** A registered asset by name: `azureml:name:version`, `azureml:name@latest`, or `name:version`. */
export interface NamedRef {
  kind: 'named';
  name: string;
  /** Exactly one of version or label. */
  version?: string;
  label?: 'latest';
  origin: Origin;
}

/** A full ARM id (`azureml:/subscriptions/.../versions/1`) or a registry URI (`azureml://registries/...`), passed through. */
export interface IdRef {
  kind: 'id';
  id: string;
  origin: Origin;
}

/** An inline environment: `image:` plus optional `conda_file:` (file content already read). */
export interface InlineEnvironment {
  kind: 'inline';
  image: string;
  condaFile?: string;
  description?: string;
  /** sha256 over the normalised definition: the anonymous version's name. */
  hash: string;
  origin: Origin;
}

export type EnvironmentRef = NamedRef | IdRef | InlineEnvironment;

/** A local code folder (or single file) to upload once per content hash. */
export interface LocalCode {
  kind: 'local';
  /** Absolute path, already checked to exist and to stay inside the allowed root. */
  path: string;
  origin: Origin;
}

export type CodeRef = NamedRef | IdRef | LocalCode;


export interface RootCheck {
  /** The allowed root, as given (absolute). */
  root: string;
  /** realpath of the root. */
  realRoot: string;
}

export function makeRoot(root: string): RootCheck {
  const abs = path.resolve(root);
  let realRoot: string;
  try {
    realRoot = fs.realpathSync(abs);
  } catch {
    realRoot = abs;
  }
  return { root: abs, realRoot };
}

function inside(parent: string, child: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/**
 * Resolve a local path written at `at` in `doc`, relative to the doc's folder. It must exist
 * and stay inside the root, both as written and after following symbolic links.
 */
export function resolveLocal(doc: LoadedYaml, at: YamlPath, written: string, root: RootCheck, what: string): string {
  const abs = path.resolve(path.dirname(doc.file), written);
  if (!inside(root.root, abs) && !inside(root.realRoot, abs)) {
    doc.fail(at, `points at '${written}', which is outside the repository folder the task may read (${root.root})`, `keep ${what} inside the repository and use a path relative to ${path.basename(doc.file)}`);
  }
  let real: string;
  try {
    real = fs.realpathSync(abs);
  } catch {
    doc.fail(at, `points at '${written}', which does not exist (looked for ${abs})`, `fix the path, which is relative to the folder of ${path.basename(doc.file)}`);
  }
  if (!inside(root.realRoot, real)) {
    doc.fail(at, `points at '${written}', a symbolic link that leads outside the repository folder (to ${real})`, `copy ${what} into the repository instead of linking to it`);
  }
  return abs;
}

// ---------------------------------------------------------------------------------------------
// References

/** Parse `azureml:name:version`, `azureml:name@latest`, ARM ids and registry ids. */
export function parseAssetRef(doc: LoadedYaml, at: YamlPath, v: string, kind: 'component' | 'environment' | 'code'): NamedRef | IdRef | undefined {
  const origin = { file: doc.file, path: dotted(at) };
  const t = v.trim();
  if (/^azureml:\/\/registries\//i.test(t)) {
    if (kind === 'code') doc.fail(at, 'is a registry code asset, which cannot be used here', 'use a local folder or a workspace code asset azureml:<name>:<version>');
    return { kind: 'id', id: t, origin };
  }
  if (/^azureml:\/subscriptions\//i.test(t)) return { kind: 'id', id: t.slice('azureml:'.length), origin };
  if (/^\/subscriptions\//i.test(t)) return { kind: 'id', id: t, origin };
  let m: RegExpExecArray | null;
  if ((m = /^azureml:([A-Za-z0-9][A-Za-z0-9._-]*)@([A-Za-z0-9._-]+)$/.exec(t))) {
    if (m[2] !== 'latest') doc.fail(at, `uses the label '@${m[2]}'`, 'only @latest or an explicit :version can be resolved');
    return { kind: 'named', name: m[1]!, label: 'latest', origin };
  }
  if ((m = /^azureml:([A-Za-z0-9][A-Za-z0-9._-]*):([A-Za-z0-9][A-Za-z0-9._-]*)$/.exec(t))) return { kind: 'named', name: m[1]!, version: m[2]!, origin };
  if (/^azureml:/i.test(t)) {
    doc.fail(at, `is '${t}', which names no version`, `write azureml:<name>:<version> or azureml:<name>@latest`);
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Code and environment

export function codeRef(doc: LoadedYaml, at: YamlPath, v: Json, root: RootCheck): CodeRef {
  let written: Json = v;
  let wAt = at;
  if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
    const keys = Object.keys(v);
    if (keys.length !== 1 || keys[0] !== 'local_path') doc.fail(at, 'must be a path or the old form {local_path: <path>}', 'write code: ./src');
    written = v.local_path!;
    wAt = [...at, 'local_path'];
  }
  if (typeof written !== 'string' || written.trim() === '') doc.fail(wAt, 'must be a path to a folder or file, or azureml:<code name>:<version>', 'write code: ./src');
  if (/^(https?|git\+|git|wasbs?|abfss?):/i.test(written) || /^azureml:\/\/(datastores|subscriptions|locations)/i.test(written)) {
    doc.fail(wAt, `is the remote location '${written}'`, 'give a local code folder (it is uploaded) or a registered code asset azureml:<name>:<version>');
  }
  const ref = parseAssetRef(doc, wAt, written, 'code');
  if (ref) return ref;
  return { kind: 'local', path: resolveLocal(doc, wAt, written, root, 'the code'), origin: { file: doc.file, path: dotted(wAt) } };
}

export function environmentRef(doc: LoadedYaml, at: YamlPath, v: Json | undefined, root: RootCheck): EnvironmentRef {
  if (v === undefined || v === null) doc.fail(at, 'is missing', 'it needs an environment: azureml:<name>:<version>, azureml:<name>@latest, or {image: ..., conda_file: ...}');
  if (typeof v === 'string') {
    const ref = parseAssetRef(doc, at, v, 'environment');
    if (!ref) doc.fail(at, `is '${v}', which is not an environment reference`, 'write azureml:<name>:<version>, azureml:<name>@latest, or an inline {image: ..., conda_file: ...}');
    return ref;
  }
  if (Array.isArray(v) || typeof v !== 'object') doc.fail(at, 'must be a reference or a mapping with image and conda_file', 'write environment: azureml:<name>:<version>');
  const o = v as JsonObject;
  if ('build' in o) doc.fail([...at, 'build'], 'asks for a Docker build context, which is not built here', 'build and register the environment once (az ml environment create) and reference it as azureml:<name>:<version>, or use image: plus conda_file:');
  for (const k of Object.keys(o)) {
    if (!['image', 'conda_file', 'description'].includes(k)) {
      doc.fail([...at, k], 'is not supported in an inline environment', k === 'name' || k === 'version' ? 'inline environments are registered anonymously by content; register a named one with az ml environment create and write azureml:<name>:<version>' : 'use image, conda_file and description only');
    }
  }
  if (typeof o.image !== 'string' || o.image.trim() === '') doc.fail([...at, 'image'], 'is missing or empty', 'give a Docker image, e.g. mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest');
  let condaFile: string | undefined;
  if (o.conda_file !== undefined && o.conda_file !== null) {
    if (typeof o.conda_file === 'string') {
      const p = resolveLocal(doc, [...at, 'conda_file'], o.conda_file, root, 'the conda file');
      const st = fs.statSync(p);
      if (!st.isFile()) doc.fail([...at, 'conda_file'], `points at '${o.conda_file}', which is a folder`, 'give the path of the conda .yml file');
      if (st.size > MAX_YAML_BYTES) doc.fail([...at, 'conda_file'], `points at a file of ${st.size} bytes, more than 1 MiB`, 'give the conda environment file, not a data file');
      condaFile = fs.readFileSync(p, 'utf8');
    } else if (typeof o.conda_file === 'object' && !Array.isArray(o.conda_file)) {
      condaFile = stringify(o.conda_file);
    } else {
      doc.fail([...at, 'conda_file'], 'must be a path to a conda file or an inline mapping', 'write conda_file: ./conda.yml');
    }
    condaFile = condaFile.replace(/\r\n/g, '\n');
  }
  if (o.description !== undefined && typeof o.description !== 'string') doc.fail([...at, 'description'], 'must be text', 'quote it');
  const hash = createHash('sha256')
    .update(JSON.stringify({ image: o.image.trim(), condaFile: condaFile ?? null }))
    .digest('hex');
  const env: InlineEnvironment = { kind: 'inline', image: o.image.trim(), hash, origin: { file: doc.file, path: dotted(at) } };
  if (condaFile !== undefined) env.condaFile = condaFile;
  if (typeof o.description === 'string') env.description = o.description;
  return env;
}

/** The name the Azure ML CLI gives anonymous environments (one version per content hash). */
export const ANONYMOUS_ENVIRONMENT_NAME = 'CliV2AnonymousEnvironment';

/** Name, version and PUT body of the anonymous environment for an inline `image:` + `conda_file:`. */
export function anonymousEnvironmentVersion(env: InlineEnvironment): { name: string; version: string; body: JsonObject } {
  const properties: JsonObject = { image: env.image, isAnonymous: true };
  if (env.condaFile !== undefined) properties.condaFile = env.condaFile;
  if (env.description !== undefined) properties.description = env.description;
  return { name: ANONYMOUS_ENVIRONMENT_NAME, version: env.hash, body: { properties } };
}
