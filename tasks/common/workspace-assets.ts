/**
 * Workspace assets that YAML files reference or bring along, shared by the tasks that submit
 * them (pipeline jobs, online deployments): a registered asset by name and version (or
 * @latest), a local code folder uploaded once per content hash through startPendingUpload and
 * registered as an anonymous code version, and an inline environment registered anonymously by
 * content. Loads the storage SDK when it uploads; reach it from azure.ts only.
 */
import type { AgentIo } from './agent';
import { anonymousEnvironmentVersion, type InlineEnvironment, type NamedRef } from './asset-refs';
import { UserError } from './errors';
import { msg } from './messages';
import { toProxySettings } from './proxy';
import { uploadSnapshot, type CodeSnapshot } from './upload';

/** What these helpers need of a workspace-scoped ARM client (WorkspaceArm has it). */
export interface WorkspaceAssetsApi {
  readonly ref: { name: string };
  /** The resource, or undefined when ARM answers 404. */
  find<T = { id: string }>(path: string): Promise<T | undefined>;
  put(path: string, body: unknown): Promise<{ id: string }>;
  post<T>(path: string, body: unknown): Promise<T>;
}

export type AssetKind = 'components' | 'environments' | 'codes' | 'data' | 'models';

/** "deploy.yml: environment": where a reference was written, for messages. */
export const whereWritten = (r: { origin: { file: string; path: string } }): string => `${r.origin.file.split(/[\\/]/).pop()}: ${r.origin.path}`;

/** A registered asset by name and version or @latest, or a clear error naming the YAML key. */
export async function resolveNamed(ws: WorkspaceAssetsApi, kind: AssetKind, ref: NamedRef): Promise<string> {
  const what = { components: 'component', environments: 'environment', codes: 'code', data: 'data', models: 'model' }[kind];
  if (ref.version) {
    const found = await ws.find(`${kind}/${encodeURIComponent(ref.name)}/versions/${encodeURIComponent(ref.version)}`);
    if (found) return found.id;
    throw new UserError(msg('AssetVersionMissing', whereWritten(ref), what, ref.name, ref.version, ws.ref.name, what));
  }
  const list = await ws.find<{ value?: Array<{ id: string }> }>(`${kind}/${encodeURIComponent(ref.name)}/versions?$orderBy=createdtime%20desc&$top=1`);
  const latest = list?.value?.[0];
  if (latest) return latest.id;
  throw new UserError(msg('AssetNoVersion', whereWritten(ref), what, ref.name, ws.ref.name));
}

interface PendingUpload {
  blobReferenceForConsumption?: { blobUri?: string; credential?: { sasUri?: string } };
}

/** Upload a code folder once per content hash, then register it as an anonymous code version. */
export async function ensureCode(io: AgentIo, ws: WorkspaceAssetsApi, snap: CodeSnapshot, label: string, stats: { uploadedBytes: number; reused: number }): Promise<string> {
  const path = `codes/${snap.hash}/versions/1`;
  const existing = await ws.find(path);
  if (existing) {
    stats.reused++;
    io.info(msg('CodeUnchanged', label, snap.files.length, snap.hash.slice(0, 12)));
    return existing.id;
  }
  const pending = await ws.post<PendingUpload>(`${path}/startPendingUpload`, { pendingUploadType: 'TemporaryBlobReference' });
  const blobUri = pending.blobReferenceForConsumption?.blobUri;
  const sasUri = io.secrets.protect(pending.blobReferenceForConsumption?.credential?.sasUri);
  if (!blobUri || !sasUri) throw new Error(msg('PendingUploadIncomplete'));
  io.info(msg('CodeUploading', label, snap.files.length, snap.bytes));
  let lastPct = -1;
  let codeUri: string;
  try {
    codeUri = await uploadSnapshot(snap, blobUri, sasUri, (done, total) => {
      const pct = total ? Math.floor((100 * done) / total) : 100;
      if (pct >= lastPct + 10 || pct === 100) {
        lastPct = pct;
        io.progress(pct, msg('CodeUploadProgress', label, `${pct}%`));
      }
    }, io.signal, toProxySettings(io.proxy(blobUri)));
  } catch (e) {
    // Never echo the SAS URL: the storage SDK's errors can quote the request URL.
    const status = (e as { statusCode?: number }).statusCode;
    throw new UserError(msg('CodeUploadFailed', label, status ?? (e as { code?: string }).code ?? msg('CodeUploadNetworkError')));
  }
  stats.uploadedBytes += snap.bytes;
  const created = await ws.put(path, { properties: { codeUri, isAnonymous: true, description: `Uploaded by Azure Pipelines from ${label}` } });
  return created.id;
}

/** The anonymous environment version of an inline `image:` + `conda_file:`, registered once per content. */
export async function ensureInlineEnvironment(ws: WorkspaceAssetsApi, env: InlineEnvironment): Promise<string> {
  const anon = anonymousEnvironmentVersion(env);
  const path = `environments/${anon.name}/versions/${anon.version}`;
  const existing = await ws.find(path);
  return existing ? existing.id : (await ws.put(path, anon.body)).id;
}
