/**
 * Workspace assets that YAML files reference or bring along, shared by the tasks that submit
 * them (pipeline jobs, online deployments): a registered asset by name and version (or
 * @latest); a local code folder uploaded once per content hash through startPendingUpload and
 * registered as an anonymous code version; local data uploaded under LocalUpload/<hash>/ on a
 * datastore, as the CLI does; and an inline environment registered anonymously by content (a
 * Docker build context is uploaded first). Loads the storage SDK when it uploads; reach it
 * from azure.ts only.
 */
import type { TokenCredential } from '@azure/core-auth';
import type { AgentIo } from './agent';
import { anonymousEnvironmentHash, anonymousEnvironmentVersion, type InlineEnvironment, type NamedRef } from './asset-refs';
import { UserError } from './errors';
import { msg } from './messages';
import { toProxySettings } from './proxy';
import {
  CONTENT_HASH_VERSION,
  objectHash,
  snapshotCode,
  uploadSnapshot,
  uploadToDatastore,
  type CodeSnapshot,
  type DatastoreTarget,
  type UploadProgress,
} from './upload';

/** What these helpers need of a workspace-scoped ARM client (WorkspaceArm has it). */
export interface WorkspaceAssetsApi {
  readonly ref: { name: string };
  /** The workspace's ARM id. */
  readonly base: string;
  /** The resource, or undefined when ARM answers 404. */
  find<T = { id: string }>(path: string): Promise<T | undefined>;
  put(path: string, body: unknown): Promise<{ id: string }>;
  post<T>(path: string, body: unknown): Promise<T>;
}

export type AssetKind = 'components' | 'environments' | 'codes' | 'data' | 'models';

/** "deploy.yml: environment": where a reference was written, for messages. */
export const whereWritten = (r: { origin: { file: string; path: string } }): string =>
  `${r.origin.file.split(/[\\/]/).pop()}: ${r.origin.path}`;

/** A registered asset by name and version or @latest, or a clear error naming the YAML key. */
export async function resolveNamed(ws: WorkspaceAssetsApi, kind: AssetKind, ref: NamedRef): Promise<string> {
  const what = { components: 'component', environments: 'environment', codes: 'code', data: 'data', models: 'model' }[kind];
  if (ref.version) {
    const found = await ws.find(`${kind}/${encodeURIComponent(ref.name)}/versions/${encodeURIComponent(ref.version)}`);
    if (found) return found.id;
    throw new UserError(msg('AssetVersionMissing', whereWritten(ref), what, ref.name, ref.version, ws.ref.name, what));
  }
  const list = await ws.find<{ value?: Array<{ id: string }> }>(
    `${kind}/${encodeURIComponent(ref.name)}/versions?$orderBy=createdtime%20desc&$top=1`,
  );
  const latest = list?.value?.[0];
  if (latest) return latest.id;
  throw new UserError(msg('AssetNoVersion', whereWritten(ref), what, ref.name, ws.ref.name));
}

interface PendingUpload {
  blobReferenceForConsumption?: { blobUri?: string; credential?: { sasUri?: string } };
}

/** Storage writes, replaceable where no storage is reached (the translation oracle's tests). */
export interface Storage {
  /** Uploads a code snapshot through a pending-upload SAS; returns the codeUri. */
  code(snap: CodeSnapshot, blobUri: string, sasUri: string, onProgress: UploadProgress, signal?: AbortSignal): Promise<string>;
  /** Uploads a snapshot to LocalUpload/<hash>/ on a datastore; returns its path there and the bytes sent. */
  data(
    snap: CodeSnapshot,
    target: DatastoreTarget,
    onProgress: UploadProgress,
    signal?: AbortSignal,
  ): Promise<{ path: string; uploadedBytes: number }>;
}

/** Everything the ensure* helpers share: the agent, the workspace, where data goes, and the tally. */
export interface AssetContext {
  io: AgentIo;
  ws: WorkspaceAssetsApi;
  /** The upload target of a datastore (read once per datastore by the caller). */
  datastore(name: string): Promise<DatastoreTarget>;
  storage: Storage;
  stats: { uploadedBytes: number; reused: number };
}

/** The real storage: @azure/storage-blob through the agent's proxy. */
export function agentStorage(io: AgentIo): Storage {
  return {
    code: (snap, blobUri, sasUri, onProgress, signal) =>
      uploadSnapshot(snap, blobUri, sasUri, onProgress, signal, toProxySettings(io.proxy(blobUri))),
    data: (snap, target, onProgress, signal) =>
      uploadToDatastore(snap, target, onProgress, signal, toProxySettings(io.proxy(target.containerUrl))),
  };
}

/** Progress in steps of 10 %, so a large upload shows it is alive without flooding the log. */
function progressEvery10(io: AgentIo, text: (pct: string) => string): UploadProgress {
  let lastPct = -1;
  return (done, total) => {
    const pct = total ? Math.floor((100 * done) / total) : 100;
    if (pct >= lastPct + 10 || pct === 100) {
      lastPct = pct;
      io.progress(pct, text(`${pct}%`));
    }
  };
}

/** A storage error without the SAS or key: the storage SDK's messages can quote the request URL. */
function uploadFailed(label: string, e: unknown): UserError {
  const status = (e as { statusCode?: number }).statusCode;
  return new UserError(msg('CodeUploadFailed', label, status ?? (e as { code?: string }).code ?? msg('CodeUploadNetworkError')));
}

/**
 * Upload a code folder once per content hash, then register it as an anonymous code version
 * carrying the SDK's hash properties (hash_sha256, hash_version), as the CLI registers code.
 */
export async function ensureCode(ctx: AssetContext, snap: CodeSnapshot, label: string): Promise<string> {
  const { io, ws, stats } = ctx;
  const path = `codes/${snap.hash}/versions/1`;
  const existing = await ws.find(path);
  if (existing) {
    stats.reused++;
    io.info(msg('CodeUnchanged', label, snap.files.length, snap.hash.slice(0, 12)));
    return existing.id;
  }
  if (snap.files.length === 0) throw new UserError(msg('UploadEmptyFolder', label));
  const pending = await ws.post<PendingUpload>(`${path}/startPendingUpload`, { pendingUploadType: 'TemporaryBlobReference' });
  const blobUri = pending.blobReferenceForConsumption?.blobUri;
  const sasUri = io.secrets.protect(pending.blobReferenceForConsumption?.credential?.sasUri);
  if (!blobUri || !sasUri) throw new Error(msg('PendingUploadIncomplete'));
  io.info(msg('CodeUploading', label, snap.files.length, snap.bytes));
  let codeUri: string;
  try {
    codeUri = await ctx.storage.code(
      snap,
      blobUri,
      sasUri,
      progressEvery10(io, (p) => msg('CodeUploadProgress', label, p)),
      io.signal,
    );
  } catch (e) {
    throw uploadFailed(label, e);
  }
  stats.uploadedBytes += snap.bytes;
  const properties = { hash_sha256: snap.hash, hash_version: CONTENT_HASH_VERSION };
  const created = await ws.put(path, { properties: { codeUri, isAnonymous: true, properties } });
  return created.id;
}

/** Local data uploaded to a datastore under LocalUpload/<hash>/, once per content: the path inside the datastore. */
export async function ensureLocalData(ctx: AssetContext, snap: CodeSnapshot, datastore: string, label: string): Promise<string> {
  const { io, stats } = ctx;
  if (snap.files.length === 0) throw new UserError(msg('UploadEmptyFolder', label));
  const target = await ctx.datastore(datastore);
  let r: { path: string; uploadedBytes: number };
  try {
    r = await ctx.storage.data(
      snap,
      target,
      progressEvery10(io, (p) => msg('DataUploadProgress', label, p)),
      io.signal,
    );
  } catch (e) {
    throw uploadFailed(label, e);
  }
  if (r.uploadedBytes === 0) {
    stats.reused++;
    io.info(msg('DataUnchanged', label, snap.files.length, objectHash(snap).slice(0, 12)));
  } else {
    stats.uploadedBytes += r.uploadedBytes;
    io.info(msg('DataUploaded', label, snap.files.length, r.uploadedBytes, datastore));
  }
  return r.path;
}

/**
 * The anonymous environment version of an inline definition, registered once per content. A
 * build context is uploaded to the default datastore first and referenced by its blob URL.
 */
export async function ensureInlineEnvironment(ctx: AssetContext, env: InlineEnvironment, root?: string): Promise<string> {
  let build: { contextUri: string; version: string } | undefined;
  if (env.build) {
    if (root === undefined) throw new Error('ensureInlineEnvironment: a build context needs the repository root');
    const label = `'${env.build.path.slice(root.length + 1) || '.'}'`;
    const snap = snapshotCode(env.build.path, root, whereWritten(env));
    const path = await ensureLocalData(ctx, snap, 'workspaceblobstore', label);
    const target = await ctx.datastore('workspaceblobstore');
    // EMS needs the trailing slash (the SDK's note in _check_and_upload_env_build_context).
    build = {
      contextUri: `${target.containerUrl}/${path}/`,
      version: anonymousEnvironmentHash({
        contextHash: objectHash(snap),
        ...(env.build.dockerfile ? { dockerfile: env.build.dockerfile } : {}),
      }),
    };
  }
  const anon = anonymousEnvironmentVersion(env, build);
  const path = `environments/${anon.name}/versions/${anon.version}`;
  const existing = await ctx.ws.find(path);
  return existing ? existing.id : (await ctx.ws.put(path, anon.body)).id;
}

/** Storage endpoint suffixes by the cloud's ARM host (the SDK's cloud table); other clouds use the datastore's own. */
const STORAGE_SUFFIX: Record<string, string> = {
  'management.azure.com': 'core.windows.net',
  'management.usgovcloudapi.net': 'core.usgovcloudapi.net',
  'management.chinacloudapi.cn': 'core.chinacloudapi.cn',
};

interface DatastoreJson {
  properties?: {
    datastoreType?: string;
    accountName?: string;
    containerName?: string;
    endpoint?: string;
    credentials?: { credentialsType?: string };
  };
}

/**
 * Where and how to write local data on a datastore of the workspace, as the SDK does
 * (get_datastore_info): https://<account>.blob.<cloud storage suffix>/<container>, with the
 * datastore's SAS or account key from listSecrets, else the connection's token. A token goes
 * only to the workspace's own storage account.
 */
export async function datastoreTarget(
  io: AgentIo,
  ws: WorkspaceAssetsApi,
  name: string,
  opts: { armUrl: string; workspaceStorageAccount: string; credential: TokenCredential },
): Promise<DatastoreTarget> {
  const ds = await ws.find<DatastoreJson>(`datastores/${encodeURIComponent(name)}`);
  if (!ds) throw new UserError(msg('DatastoreMissing', name, ws.ref.name));
  const p = ds.properties ?? {};
  if (p.datastoreType !== 'AzureBlob' || !p.accountName || !p.containerName)
    throw new UserError(msg('DatastoreNotBlob', name, String(p.datastoreType)));
  const suffix = STORAGE_SUFFIX[new URL(opts.armUrl).hostname.toLowerCase()] ?? p.endpoint ?? 'core.windows.net';
  if (!/^[a-z0-9]{3,24}$/.test(p.accountName) || !/^[a-z0-9.-]+$/i.test(suffix))
    throw new UserError(msg('DatastoreNotBlob', name, String(p.datastoreType)));
  const containerUrl = `https://${p.accountName}.blob.${suffix}/${encodeURIComponent(p.containerName)}`;
  if (p.credentials?.credentialsType !== 'None') {
    const secrets = await ws
      .post<{ secretsType?: string; key?: string; sasToken?: string }>(`datastores/${encodeURIComponent(name)}/listSecrets`, {})
      .catch((e: { statusCode?: number }) => {
        if (e.statusCode === 403 || e.statusCode === 400) return undefined;
        throw e;
      });
    if (secrets?.secretsType === 'Sas' && secrets.sasToken)
      return { datastore: name, containerUrl, credential: { kind: 'sas', token: io.secrets.protect(secrets.sasToken)! } };
    if (secrets?.secretsType === 'AccountKey' && secrets.key)
      return { datastore: name, containerUrl, credential: { kind: 'key', account: p.accountName, key: io.secrets.protect(secrets.key)! } };
  }
  if (p.accountName.toLowerCase() !== opts.workspaceStorageAccount.toLowerCase())
    throw new UserError(msg('DatastoreNoSecretOtherAccount', name, p.accountName));
  return { datastore: name, containerUrl, credential: { kind: 'token', credential: opts.credential } };
}
