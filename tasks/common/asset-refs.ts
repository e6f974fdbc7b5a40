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
import { confine, PathRefused, type SourcesRoot } from './files';
import { msg } from './messages';

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


/**
 * Resolve a local path written at `at` in `doc`, relative to the doc's folder. It must exist
 * and stay inside the root, both as written and after following symbolic links.
 */
export function resolveLocal(doc: LoadedYaml, at: YamlPath, written: string, root: SourcesRoot, what: string): string {
  try {
    return confine(root, path.dirname(doc.file), written).abs;
  } catch (e) {
    if (!(e instanceof PathRefused)) throw e;
    switch (e.kind) {
      case 'outside':
        return doc.fail(at, msg('LocalPathOutsideRepository', written, root.root), msg('LocalPathOutsideRepositoryFix', what, path.basename(doc.file)));
      case 'missing':
        return doc.fail(at, msg('LocalPathMissing', written, e.abs), msg('LocalPathMissingFix', path.basename(doc.file)));
      case 'loop':
        return doc.fail(at, msg('LocalPathLinkLoop', written), msg('LocalPathLinkLoopFix'));
      case 'linksOutside':
        return doc.fail(at, msg('LocalPathLinksOutside', written, e.real), msg('LocalPathLinksOutsideFix', what));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// References

/** Parse `azureml:name:version`, `azureml:name@latest`, ARM ids and registry ids. */
export function parseAssetRef(doc: LoadedYaml, at: YamlPath, v: string, kind: 'component' | 'environment' | 'code'): NamedRef | IdRef | undefined {
  const origin = { file: doc.file, path: dotted(at) };
  const t = v.trim();
  if (/^azureml:\/\/registries\//i.test(t)) {
    if (kind === 'code') doc.fail(at, msg('RegistryCodeAsset'), msg('RegistryCodeAssetFix'));
    return { kind: 'id', id: t, origin };
  }
  if (/^azureml:\/subscriptions\//i.test(t)) return { kind: 'id', id: t.slice('azureml:'.length), origin };
  if (/^\/subscriptions\//i.test(t)) return { kind: 'id', id: t, origin };
  let m: RegExpExecArray | null;
  if ((m = /^azureml:([A-Za-z0-9][A-Za-z0-9._-]*)@([A-Za-z0-9._-]+)$/.exec(t))) {
    if (m[2] !== 'latest') doc.fail(at, msg('AssetRefUnsupportedLabel', m[2]), msg('AssetRefUnsupportedLabelFix'));
    return { kind: 'named', name: m[1]!, label: 'latest', origin };
  }
  if ((m = /^azureml:([A-Za-z0-9][A-Za-z0-9._-]*):([A-Za-z0-9][A-Za-z0-9._-]*)$/.exec(t))) return { kind: 'named', name: m[1]!, version: m[2]!, origin };
  if (/^azureml:/i.test(t)) {
    doc.fail(at, msg('AssetRefNoVersion', t), msg('AssetRefNoVersionFix'));
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Code and environment

export function codeRef(doc: LoadedYaml, at: YamlPath, v: Json, root: SourcesRoot): CodeRef {
  let written: Json = v;
  let wAt = at;
  if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
    const keys = Object.keys(v);
    if (keys.length !== 1 || keys[0] !== 'local_path') doc.fail(at, msg('CodeNotPathOrLocalPath'), msg('CodePathFix'));
    written = v.local_path!;
    wAt = [...at, 'local_path'];
  }
  if (typeof written !== 'string' || written.trim() === '') doc.fail(wAt, msg('CodeNotPath'), msg('CodePathFix'));
  if (/^(https?|git\+|git|wasbs?|abfss?):/i.test(written) || /^azureml:\/\/(datastores|subscriptions|locations)/i.test(written)) {
    doc.fail(wAt, msg('CodeIsRemote', written), msg('CodeIsRemoteFix'));
  }
  const ref = parseAssetRef(doc, wAt, written, 'code');
  if (ref) return ref;
  return { kind: 'local', path: resolveLocal(doc, wAt, written, root, msg('LocalCodeNoun')), origin: { file: doc.file, path: dotted(wAt) } };
}

export function environmentRef(doc: LoadedYaml, at: YamlPath, v: Json | undefined, root: SourcesRoot): EnvironmentRef {
  if (v === undefined || v === null) doc.fail(at, msg('EnvironmentMissing'), msg('EnvironmentMissingFix'));
  if (typeof v === 'string') {
    const ref = parseAssetRef(doc, at, v, 'environment');
    if (!ref) doc.fail(at, msg('NotAnEnvironmentRef', v), msg('NotAnEnvironmentRefFix'));
    return ref;
  }
  if (Array.isArray(v) || typeof v !== 'object') doc.fail(at, msg('EnvironmentNotMapping'), msg('EnvironmentNotMappingFix'));
  const o = v as JsonObject;
  if ('build' in o) doc.fail([...at, 'build'], msg('EnvironmentBuild'), msg('EnvironmentBuildFix'));
  for (const k of Object.keys(o)) {
    if (!['image', 'conda_file', 'description'].includes(k)) {
      doc.fail([...at, k], msg('InlineEnvironmentKey'), k === 'name' || k === 'version' ? msg('InlineEnvironmentNamedFix') : msg('InlineEnvironmentKeyFix'));
    }
  }
  if (typeof o.image !== 'string' || o.image.trim() === '') doc.fail([...at, 'image'], msg('EnvironmentImageMissing'), msg('EnvironmentImageFix'));
  let condaFile: string | undefined;
  if (o.conda_file !== undefined && o.conda_file !== null) {
    if (typeof o.conda_file === 'string') {
      const p = resolveLocal(doc, [...at, 'conda_file'], o.conda_file, root, msg('LocalCondaFileNoun'));
      const st = fs.statSync(p);
      if (!st.isFile()) doc.fail([...at, 'conda_file'], msg('CondaFileIsFolder', o.conda_file), msg('CondaFileIsFolderFix'));
      if (st.size > MAX_YAML_BYTES) doc.fail([...at, 'conda_file'], msg('CondaFileTooLarge', st.size), msg('CondaFileTooLargeFix'));
      condaFile = fs.readFileSync(p, 'utf8');
    } else if (typeof o.conda_file === 'object' && !Array.isArray(o.conda_file)) {
      condaFile = stringify(o.conda_file);
    } else {
      doc.fail([...at, 'conda_file'], msg('CondaFileNotPath'), msg('CondaFileNotPathFix'));
    }
    condaFile = condaFile.replace(/\r\n/g, '\n');
  }
  if (o.description !== undefined && typeof o.description !== 'string') doc.fail([...at, 'description'], msg('DescriptionNotText'), msg('DescriptionNotTextFix'));
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
