/**
 * Registering a model version exactly once per pipeline run and job, with the next free integer
 * version even when several registrations race. Pure logic over a small registry interface (the
 * ARM implementation is in azure.ts; unit tests use an in-memory one).
 *
 * - Identity: the lineage tags of this run and job (ado.runId, ado.jobName) plus the immutable
 *   property ado.modelSource (the URI we registered). A version carrying all of them is ours.
 * - Before creating, look for ours (a re-run returns it).
 * - Create at the container's next version. A version that exists already, a 409, or Azure ML's
 *   400 "Asset paths cannot be updated." (another registration took that version first with other
 *   files) moves on to the next version, a bounded number of times.
 * - Any other failure of the PUT (429/5xx after the client's own retries, a lost response) is
 *   checked against the registry before it is reported: if our version landed, it is returned.
 */
import { UserError } from '../common/errors';
import { msg } from './messages';
import { SOURCE_PROPERTY } from './spec';

export interface ModelVersionProps {
  description?: string | null;
  tags?: Record<string, string> | null;
  properties?: Record<string, string> | null;
  modelType?: string;
  modelUri?: string;
  jobName?: string | null;
  isArchived?: boolean;
  isAnonymous?: boolean;
}

export interface ModelVersion {
  id: string;
  name: string;
  properties?: ModelVersionProps;
  systemData?: { createdAt?: string };
}

export interface ModelRegistry {
  /** Versions of the model, newest first, with every given tag (Azure ML's `tags=k=v,k2=v2` filter); [] when the model does not exist. */
  versions(filter?: { tags?: Record<string, string>; top?: number }): Promise<ModelVersion[]>;
  /** One version, or undefined. */
  get(version: string): Promise<ModelVersion | undefined>;
  put(version: string, body: { properties: ModelVersionProps }): Promise<ModelVersion>;
  /** The next integer version the container reports (1 for a new model). */
  nextVersion(): Promise<number>;
}

export interface Identity {
  /** Lineage tags that must all match (ado.runId, ado.jobName when known). */
  tags: Record<string, string>;
  /** The URI this registration uses (recorded in the ado.modelSource property). */
  source: string;
}

export function isOwn(v: ModelVersion | undefined, id: Identity): boolean {
  if (!v) return false;
  const tags = v.properties?.tags ?? {};
  return Object.entries(id.tags).every(([k, val]) => tags[k] === val) && v.properties?.properties?.[SOURCE_PROPERTY] === id.source;
}

/** The version this run already registered from this source, if any. */
export async function findOwn(reg: ModelRegistry, id: Identity): Promise<ModelVersion | undefined> {
  const list = await reg.versions(Object.keys(id.tags).length ? { tags: id.tags } : {});
  return list.find((v) => isOwn(v, id));
}

/** Another registration holds this version already (with other files). */
export function isVersionConflict(e: unknown): boolean {
  const err = e as { statusCode?: number; message?: string };
  return (
    err.statusCode === 409 || (err.statusCode === 400 && /Asset paths cannot be updated|already exists|immutable/i.test(err.message ?? ''))
  );
}

export interface RegisterResult {
  version: ModelVersion;
  /** Versions tried and found taken by others. */
  conflicts: number;
  /** True when a failed PUT had in fact created our version. */
  recovered: boolean;
}

export async function registerVersion(
  reg: ModelRegistry,
  body: { properties: ModelVersionProps },
  id: Identity,
  opts: { log?: (line: string) => void; maxAttempts?: number; modelName?: string } = {},
): Promise<RegisterResult> {
  const log = opts.log ?? (() => undefined);
  const max = opts.maxAttempts ?? 10;
  let conflicts = 0;
  let v = await reg.nextVersion();
  const advance = async (taken: number): Promise<number> => Math.max(taken + 1, await reg.nextVersion().catch(() => taken + 1));
  for (let attempt = 1; attempt <= max; attempt++) {
    const existing = await reg.get(String(v));
    if (existing) {
      // Ours already (an earlier attempt landed), or someone else's: never overwrite it.
      if (isOwn(existing, id)) return { version: existing, conflicts, recovered: true };
      conflicts++;
      v = await advance(v);
      continue;
    }
    try {
      return { version: await reg.put(String(v), body), conflicts, recovered: false };
    } catch (e) {
      const landed = await reg.get(String(v)).catch(() => undefined);
      if (isOwn(landed, id)) return { version: landed!, conflicts, recovered: true };
      if (!isVersionConflict(e)) {
        // Retries exhausted or the response lost: the version may still have landed elsewhere.
        const own = await findOwn(reg, id).catch(() => undefined);
        if (own) return { version: own, conflicts, recovered: true };
        throw e;
      }
      conflicts++;
      log(msg('VersionTaken', v));
      v = await advance(v);
    }
  }
  throw new UserError(msg('TooManyVersionConflicts', opts.modelName ?? body.properties.modelUri, max));
}
