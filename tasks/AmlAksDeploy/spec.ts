/**
 * The task's own inputs, checked and normalised: the model reference, endpoint and deployment
 * names (Azure ML's rules), the auth mode (never anonymous), the name derived from the model.
 * Pure: no I/O.
 */
import { inputError } from '../common/errors';
import { isModelName, isRegistryName } from '../common/names';
import { parseRegistryModelUri } from '../common/registry-uri';
import { msg } from './messages';

/** A workspace model version: from `name:version`, `azureml:name:version` or its ARM id. */
export interface ModelRef {
  name: string;
  version: string;
  /** Set when the input was an ARM id: the workspace it names. */
  workspace?: { subscriptionId: string; resourceGroup: string; name: string };
  /** Set for `azureml://registries/<registry>/models/<name>/versions/<version>`: the registry. */
  registry?: string;
}

const MODEL_VERSION = /^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/;
const MODEL_ID =
  /^(?:azureml:)?\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.MachineLearningServices\/workspaces\/([^/]+)\/models\/([^/]+)\/versions\/([^/]+)$/i;

export function parseModelRef(text: string): ModelRef {
  const t = text.trim();
  const id = MODEL_ID.exec(t);
  if (id)
    return {
      name: decodeURIComponent(id[4]!),
      version: decodeURIComponent(id[5]!),
      workspace: { subscriptionId: id[1]!, resourceGroup: id[2]!, name: id[3]! },
    };
  if (/^azureml:\/\/registries\//i.test(t)) {
    const r = parseRegistryModelUri(t);
    if (!r) throw inputError('model', msg('ModelRegistryNotVersion', t), msg('ModelRegistryFix'));
    if (!isRegistryName(r.registry)) throw inputError('model', msg('ModelRegistryNameInvalid', r.registry), msg('ModelRegistryFix'));
    if (!isModelName(r.name)) throw inputError('model', msg('ModelNameInvalid', r.name), msg('ModelRegistryFix'));
    if (!MODEL_VERSION.test(r.version)) throw inputError('model', msg('ModelVersionInvalid', r.version), msg('ModelRegistryFix'));
    return { name: r.name, version: r.version, registry: r.registry };
  }
  if (/^azureml:\/\/|^https?:|^\//i.test(t)) throw inputError('model', msg('ModelNotVersionReference', t), msg('ModelReferenceFix'));
  const bare = t.replace(/^azureml:/i, '');
  if (/@/.test(bare)) {
    throw inputError('model', msg('ModelAsksForLabel', t, bare.slice(bare.indexOf('@'))), msg('ModelAsksForLabelFix'));
  }
  const parts = bare.split(':');
  if (parts.length !== 2 || !parts[0] || !parts[1]) throw inputError('model', msg('ModelNamesNoVersion', t), msg('ModelReferenceFix'));
  const [name, version] = parts as [string, string];
  if (!isModelName(name)) throw inputError('model', msg('ModelNameInvalid', name), msg('ModelReferenceFix'));
  if (!MODEL_VERSION.test(version)) throw inputError('model', msg('ModelVersionInvalid', version), msg('ModelReferenceFix'));
  return { name, version };
}

/**
 * Online endpoint and deployment names: 3 to 32 characters, letters, digits and '-', starting
 * with a letter and not ending with '-' (they become Kubernetes resource names and, for
 * endpoints, part of the scoring host name).
 */
export const ONLINE_NAME = /^[A-Za-z][A-Za-z0-9-]{1,30}[A-Za-z0-9]$/;

export function checkOnlineName(input: 'endpointName' | 'deploymentName', name: string): string {
  if (ONLINE_NAME.test(name)) return name;
  const why =
    name.length < 3 || name.length > 32
      ? msg('OnlineNameLength', name.length)
      : !/^[A-Za-z]/.test(name)
        ? msg('OnlineNameFirstNotLetter')
        : name.endsWith('-')
          ? msg('OnlineNameEndsWithDash')
          : msg('OnlineNameBadCharacter', name.replace(/[A-Za-z0-9-]/g, '')[0]);
  const problem = input === 'endpointName' ? msg('EndpointNameInvalid', name, why) : msg('DeploymentNameInvalid', name, why);
  throw inputError(input, problem, msg('OnlineNameFix'));
}

/** `taxi-fare-model` version `7` -> `taxi-fare-model-v7`; valid, and unique among `taken` (case-insensitive). */
export function deriveDeploymentName(model: ModelRef, taken: Iterable<string>): string {
  const slug = (s: string) =>
    s
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '');
  const version = slug(model.version) || '0';
  let base = slug(model.name);
  if (!/^[a-z]/.test(base)) base = `m${base ? `-${base}` : ''}`;
  const used = new Set([...taken].map((n) => n.toLowerCase()));
  for (let n = 1; ; n++) {
    const suffix = `-v${version}${n > 1 ? `-${n}` : ''}`;
    // Keep the version visible: shorten the model part, never the suffix.
    const room = Math.max(1, 32 - suffix.length);
    const head = base.slice(0, room).replace(/-+$/, '') || 'm';
    const name = `${head}${suffix}`.slice(0, 32).replace(/-+$/, '');
    if (!used.has(name.toLowerCase()) && ONLINE_NAME.test(name)) return name;
    if (n > 999) throw new Error(`no free deployment name for ${model.name}:${model.version}`);
  }
}

export type AuthMode = 'Key' | 'AMLToken';

/** `key` or `aml_token` (the CLI's spellings, any case); anything that could make the endpoint anonymous is refused. */
export function parseAuthMode(text: string | undefined): AuthMode {
  const t = (text ?? 'key').trim().toLowerCase().replace(/[-\s]/g, '_');
  if (t === 'key') return 'Key';
  if (t === 'aml_token' || t === 'amltoken') return 'AMLToken';
  if (/^(anonymous|none|no_auth|noauth|off|disabled|false|public)$/.test(t)) {
    throw inputError('authMode', msg('AuthModeAnonymous', text), msg('AuthModeAnonymousFix'));
  }
  throw inputError('authMode', msg('AuthModeUnknown', text), msg('AuthModeUnknownFix'));
}
