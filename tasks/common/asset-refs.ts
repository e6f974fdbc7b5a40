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
import { dotted, loadYamlFile, MAX_YAML_BYTES, type Json, type JsonObject, type LoadedYaml, type YamlPath } from '../common/yaml';
import { pyYamlDump } from './pyyaml';
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
  /**
   * A curated environment (`azureml:AzureML-...`) as written, with any version or label: the SDK
   * sends this short form and the service expands it, so it is not looked up in the workspace.
   */
  curated?: string;
  origin: Origin;
}

/** A full ARM id (`azureml:/subscriptions/.../versions/1`) or a registry URI (`azureml://registries/...`), passed through. */
export interface IdRef {
  kind: 'id';
  id: string;
  origin: Origin;
}

/**
 * An inline (anonymous) environment: `image:` with an optional `conda_file:`, or a Docker `build:`
 * context folder (uploaded, then built by the service). Registered as CliV2AnonymousEnvironment
 * under `version`, the version the Azure ML SDK computes from the same content, so the CLI and
 * this task share one anonymous environment per definition.
 */
export interface InlineEnvironment {
  kind: 'inline';
  image?: string;
  /** The conda file as the SDK sends it: the parsed YAML dumped with sorted keys. */
  condaFile?: string;
  /** A local Docker build context: absolute folder path and the Dockerfile's path inside it. */
  build?: { path: string; dockerfile?: string };
  description?: string;
  /** The anonymous version (see anonymousEnvironmentHash); for a build context it is set once the folder is hashed. */
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
        return doc.fail(
          at,
          msg('LocalPathOutsideRepository', written, root.root),
          msg('LocalPathOutsideRepositoryFix', what, path.basename(doc.file)),
        );
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
export function parseAssetRef(
  doc: LoadedYaml,
  at: YamlPath,
  v: string,
  kind: 'component' | 'environment' | 'code',
): NamedRef | IdRef | undefined {
  const origin = { file: doc.file, path: dotted(at) };
  const t = v.trim();
  if (/^azureml:\/\/registries\//i.test(t)) {
    if (kind === 'code') doc.fail(at, msg('RegistryCodeAsset'), msg('RegistryCodeAssetFix'));
    return { kind: 'id', id: t, origin };
  }
  if (/^azureml:\/subscriptions\//i.test(t)) return { kind: 'id', id: t.slice('azureml:'.length), origin };
  if (/^\/subscriptions\//i.test(t)) return { kind: 'id', id: t, origin };
  let m: RegExpExecArray | null;
  if (kind === 'environment' && (m = /^azureml:(AzureML-[A-Za-z0-9._-]*)(?:@([A-Za-z0-9._-]+)|:([A-Za-z0-9][A-Za-z0-9._-]*))$/.exec(t))) {
    // The SDK's CURATED_ENV_PREFIX: curated environments live in the azureml registry, the service resolves them.
    return { kind: 'named', name: m[1]!, ...(m[3] ? { version: m[3] } : { label: 'latest' as const }), curated: t, origin };
  }
  if ((m = /^azureml:([A-Za-z0-9][A-Za-z0-9._-]*)@([A-Za-z0-9._-]+)$/.exec(t))) {
    if (m[2] !== 'latest') doc.fail(at, msg('AssetRefUnsupportedLabel', m[2]), msg('AssetRefUnsupportedLabelFix'));
    return { kind: 'named', name: m[1]!, label: 'latest', origin };
  }
  if ((m = /^azureml:([A-Za-z0-9][A-Za-z0-9._-]*):([A-Za-z0-9][A-Za-z0-9._-]*)$/.exec(t)))
    return { kind: 'named', name: m[1]!, version: m[2]!, origin };
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
  return {
    kind: 'local',
    path: resolveLocal(doc, wAt, written, root, msg('LocalCodeNoun')),
    origin: { file: doc.file, path: dotted(wAt) },
  };
}

/** Keys of an inline environment; the SDK ignores name and version (it registers anonymously by content). */
const INLINE_ENV_KEYS = ['image', 'conda_file', 'build', 'description', 'name', 'version', 'tags', 'os_type', '$schema'];

/** md5 hex of UTF-8 text, as the SDK's get_md5_string. */
const md5 = (s: string): string => createHash('md5').update(s, 'utf8').digest('hex');

/**
 * The anonymous environment version the Azure ML SDK computes (Environment._generate_anonymous_name_version):
 * from the image and the dumped conda file, or from the build context's content hash and Dockerfile path.
 * Python's `str.join` makes each later part's md5 characters joined by the text so far.
 */
export function anonymousEnvironmentHash(parts: { image?: string; condaFile?: string; contextHash?: string; dockerfile?: string }): string {
  let h: string;
  if (parts.contextHash !== undefined) {
    h = md5(parts.contextHash);
    if (parts.dockerfile) h = [...md5(parts.dockerfile)].join(h);
  } else {
    h = md5(parts.image ?? '');
    if (parts.condaFile !== undefined) h = [...md5(parts.condaFile)].join(h);
  }
  return md5(h);
}

function condaText(doc: LoadedYaml, at: YamlPath, v: Json, root: SourcesRoot): string {
  let data: Json;
  if (typeof v === 'string') {
    const p = resolveLocal(doc, at, v, root, msg('LocalCondaFileNoun'));
    const st = fs.statSync(p);
    if (!st.isFile()) doc.fail(at, msg('CondaFileIsFolder', v), msg('CondaFileIsFolderFix'));
    if (st.size > MAX_YAML_BYTES) doc.fail(at, msg('CondaFileTooLarge', st.size), msg('CondaFileTooLargeFix'));
    data = loadYamlFile(p, { root: root.root, what: msg('LocalCondaFileNoun') }).data;
  } else if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
    data = v;
  } else {
    return doc.fail(at, msg('CondaFileNotPath'), msg('CondaFileNotPathFix'));
  }
  // The SDK sends the parsed file dumped again with sorted keys; the service needs the text.
  return pyYamlDump(data);
}

/**
 * `environment:` of a job, step or component: a registered or registry reference, a curated
 * environment in the short form (sent as written), or an inline definition. `allowBuild` admits
 * a Docker build context folder (pipeline jobs upload it; deployments do not).
 */
export function environmentRef(
  doc: LoadedYaml,
  at: YamlPath,
  v: Json | undefined,
  root: SourcesRoot,
  opts: { allowBuild?: boolean } = {},
): EnvironmentRef {
  if (v === undefined || v === null) doc.fail(at, msg('EnvironmentMissing'), msg('EnvironmentMissingFix'));
  if (typeof v === 'string') {
    const ref = parseAssetRef(doc, at, v, 'environment');
    if (!ref) doc.fail(at, msg('NotAnEnvironmentRef', v), msg('NotAnEnvironmentRefFix'));
    return ref;
  }
  if (Array.isArray(v) || typeof v !== 'object') doc.fail(at, msg('EnvironmentNotMapping'), msg('EnvironmentNotMappingFix'));
  const o = v as JsonObject;
  if ('build' in o && !opts.allowBuild) doc.fail([...at, 'build'], msg('EnvironmentBuild'), msg('EnvironmentBuildFix'));
  for (const k of Object.keys(o))
    if (!INLINE_ENV_KEYS.includes(k)) doc.fail([...at, k], msg('InlineEnvironmentKey'), msg('InlineEnvironmentKeyFix'));
  if (o.description !== undefined && typeof o.description !== 'string')
    doc.fail([...at, 'description'], msg('DescriptionNotText'), msg('DescriptionNotTextFix'));
  const origin = { file: doc.file, path: dotted(at) };
  if (o.build !== undefined && o.build !== null) {
    const b = o.build;
    if (typeof b !== 'object' || Array.isArray(b) || typeof b.path !== 'string')
      doc.fail([...at, 'build'], msg('EnvironmentBuildNotMapping'), msg('EnvironmentBuildNotMappingFix'));
    for (const k of Object.keys(b))
      if (k !== 'path' && k !== 'dockerfile_path')
        doc.fail([...at, 'build', k], msg('InlineEnvironmentKey'), msg('EnvironmentBuildKeysFix'));
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(b.path))
      doc.fail([...at, 'build', 'path'], msg('EnvironmentBuildRemote', b.path), msg('EnvironmentBuildRemoteFix'));
    const dir = resolveLocal(doc, [...at, 'build', 'path'], b.path, root, msg('LocalBuildContextNoun'));
    if (!fs.statSync(dir).isDirectory())
      doc.fail([...at, 'build', 'path'], msg('EnvironmentBuildNotFolder', b.path), msg('EnvironmentBuildNotFolderFix'));
    const dockerfile = typeof b.dockerfile_path === 'string' ? b.dockerfile_path : undefined;
    if (b.dockerfile_path !== undefined && dockerfile === undefined)
      doc.fail([...at, 'build', 'dockerfile_path'], msg('DescriptionNotText'), msg('EnvironmentBuildKeysFix'));
    if (o.image !== undefined || o.conda_file !== undefined)
      doc.fail([...at, 'build'], msg('EnvironmentBuildAndImage'), msg('EnvironmentBuildAndImageFix'));
    const env: InlineEnvironment = { kind: 'inline', build: { path: dir, ...(dockerfile ? { dockerfile } : {}) }, hash: '', origin };
    if (typeof o.description === 'string') env.description = o.description;
    return env;
  }
  if (typeof o.image !== 'string' || o.image.trim() === '')
    doc.fail([...at, 'image'], msg('EnvironmentImageMissing'), msg('EnvironmentImageFix'));
  const image = o.image.trim();
  const condaFile =
    o.conda_file === undefined || o.conda_file === null ? undefined : condaText(doc, [...at, 'conda_file'], o.conda_file, root);
  const env: InlineEnvironment = {
    kind: 'inline',
    image,
    hash: anonymousEnvironmentHash({ image, ...(condaFile !== undefined ? { condaFile } : {}) }),
    origin,
  };
  if (condaFile !== undefined) env.condaFile = condaFile;
  if (typeof o.description === 'string') env.description = o.description;
  return env;
}

/** The name the Azure ML CLI gives anonymous environments (one version per content hash). */
export const ANONYMOUS_ENVIRONMENT_NAME = 'CliV2AnonymousEnvironment';

/**
 * Name, version and PUT body of the anonymous environment, as the SDK sends it
 * (EnvironmentVersion: isAnonymous, condaFile, image or build). A build environment needs its
 * uploaded context: `contextUri` and the version from the context's content hash.
 */
export function anonymousEnvironmentVersion(
  env: InlineEnvironment,
  build?: { contextUri: string; version: string },
): { name: string; version: string; body: JsonObject } {
  const properties: JsonObject = { isAnonymous: true, isArchived: false };
  if (env.condaFile !== undefined) properties.condaFile = env.condaFile;
  if (env.image !== undefined) properties.image = env.image;
  if (env.build) {
    if (!build) throw new Error('anonymousEnvironmentVersion: a build environment needs its uploaded context');
    properties.build = { contextUri: build.contextUri, ...(env.build.dockerfile ? { dockerfilePath: env.build.dockerfile } : {}) };
  }
  if (env.description !== undefined) properties.description = env.description;
  return { name: ANONYMOUS_ENVIRONMENT_NAME, version: build?.version ?? env.hash, body: { properties } };
}
