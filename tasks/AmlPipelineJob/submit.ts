/**
 * Resolving a plan's references to ARM ids and URIs, in two phases: first every read-only
 * lookup (computes, datastores, registered assets), so a bad reference fails before anything is
 * written; then the writes, each once per content (code and data uploads, anonymous
 * environments, anonymous components, in dependency order). No Azure SDK is loaded here: the
 * ARM calls and the storage writes come in through AssetContext, so the translation oracle's
 * tests run this same code against an in-memory workspace.
 */
import { UserError } from '../common/errors';
import { snapshotCode, type CodeSnapshot } from '../common/upload';
import {
  ensureCode,
  ensureInlineEnvironment,
  ensureLocalData,
  resolveNamed,
  whereWritten,
  type AssetContext,
} from '../common/workspace-assets';
import { anonymousComponentHash, anonymousComponentVersionBody, fill, ANONYMOUS_COMPONENT_NAME } from './body';
import { msg } from './messages';
import type { JsonObject, Ref } from './plan';

/** What resolution needs beyond AssetContext: listing computes for a helpful message. */
export interface SubmitContext extends AssetContext {
  /** The repository root: local paths were confined to it at translation. */
  root: string;
  /** Names of the workspace's computes, for the message when one is missing. */
  computeNames(): Promise<string[]>;
}

const relative = (root: string, p: string): string => `'${p.slice(root.length + 1) || '.'}'`;

/** Phase 1: every lookup. Returns the resolution of each lookup ref (undefined for refs created later). */
async function lookUp(ctx: SubmitContext, refs: Ref[]): Promise<Array<string | undefined>> {
  const { ws } = ctx;
  const values: Array<string | undefined> = [];
  let computes = 0;
  let assets = 0;
  for (const r of refs) {
    let v: string | undefined;
    switch (r.kind) {
      case 'compute': {
        if (r.name === 'serverless') {
          // The SDK writes serverless as a compute id of the workspace; the service runs it on serverless compute.
          v = `${ws.base}/computes/serverless`;
          break;
        }
        const found = await ws.find(`computes/${encodeURIComponent(r.name)}`);
        if (!found) {
          const known = (await ctx.computeNames().catch(() => [] as string[])).join(', ');
          throw new UserError(
            known ? msg('ComputeNotFound', r.name, ws.ref.name, known) : msg('ComputeNotFoundNoneThere', r.name, ws.ref.name),
          );
        }
        v = found.id;
        computes++;
        break;
      }
      case 'datastore': {
        const found = await ws.find(`datastores/${encodeURIComponent(r.name)}`);
        if (!found) throw new UserError(msg('DatastoreNotFound', r.name, ws.ref.name));
        v = found.id;
        break;
      }
      case 'asset':
        v = await resolveNamed(ws, r.assetType, r.ref);
        assets++;
        break;
      case 'verbatim':
        v = r.value;
        break;
      default:
        v = undefined;
    }
    values.push(v);
  }
  ctx.io.info(msg('ResolvedComputesAndAssets', computes, assets));
  return values;
}

/** Phase 2: uploads and registrations, in the refs' order (a component's refs come before it). */
async function create(ctx: SubmitContext, refs: Ref[], values: Array<string | undefined>): Promise<void> {
  const snaps = new Map<string, CodeSnapshot>();
  const snap = (p: string, where: string): CodeSnapshot => {
    let s = snaps.get(p);
    if (!s) snaps.set(p, (s = snapshotCode(p, ctx.root, where)));
    return s;
  };
  const components = new Map<string, string>();
  for (const [i, r] of refs.entries()) {
    switch (r.kind) {
      case 'code':
        values[i] = await ensureCode(ctx, snap(r.path, whereWritten(r)), relative(ctx.root, r.path));
        break;
      case 'data': {
        const inside = await ensureLocalData(ctx, snap(r.path, whereWritten(r)), r.datastore, relative(ctx.root, r.path));
        // The SDK ends a folder's URI with a slash (JobOperations._resolve_job_input).
        values[i] = `azureml://datastores/${r.datastore}/paths/${inside}${r.dataType === 'uri_folder' ? '/' : ''}`;
        break;
      }
      case 'environment':
        values[i] = await ensureInlineEnvironment(ctx, r.env, ctx.root);
        break;
      case 'component': {
        const spec = fill(r.spec, values) as JsonObject;
        const hash = anonymousComponentHash(spec);
        let id = components.get(hash);
        if (!id) {
          const path = `components/${ANONYMOUS_COMPONENT_NAME}/versions/${hash}`;
          const existing = await ctx.ws.find(path);
          id = existing ? existing.id : (await ctx.ws.put(path, anonymousComponentVersionBody(spec))).id;
          components.set(hash, id);
        }
        values[i] = id;
        break;
      }
      default:
        break;
    }
  }
}

/** The resolution of every ref: lookups first (nothing written if one fails), then the writes. */
export async function resolveRefs(ctx: SubmitContext, refs: Ref[]): Promise<Array<string | undefined>> {
  const values = await lookUp(ctx, refs);
  await create(ctx, refs, values);
  return values;
}

export type { JsonObject };
