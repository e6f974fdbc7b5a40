/**
 * Promotion to an Azure ML registry (AmlModelRegister@1 with registryName), the reads that must
 * pass before anything is written: the registry (by name, in the workspace's region), the model
 * version to share when sourceModel names one, the long-form URI the registry copies from, and
 * whether the workspace's storage lets the registry copy at all (Microsoft's data exfiltration
 * protection: public access disabled, or a network rule set without a resource instance rule
 * for the registry, makes the copy fail).
 */
import type { Workspace } from '@azure/arm-machinelearning';
import type { ArmClient, WorkspaceRef } from '../common/arm';
import { UserError } from '../common/errors';
import type { OpenedRegistry } from '../common/registry';
import type { WorkspaceArm } from '../common/workspace-arm';
import { msg } from './messages';
import type { ModelVersion } from './register';

/** A model version to share from the workspace: `name:version` (sourceModel). */
export interface SourceModel {
  name: string;
  version: string;
}

/** The workspace version sourceModel names; a missing one lists the versions there are. */
export async function readSourceModel(ws: WorkspaceArm, src: SourceModel): Promise<ModelVersion> {
  const found = await ws.find<ModelVersion>(`models/${encodeURIComponent(src.name)}/versions/${encodeURIComponent(src.version)}`);
  if (found) return found;
  const versions = await ws
    .list<ModelVersion>(`models/${encodeURIComponent(src.name)}/versions?$orderBy=createdtime%20desc`, 1)
    .catch(() => []);
  const there = versions.length
    ? msg(
        'SourceModelVersionsThere',
        versions
          .slice(0, 20)
          .map((v) => v.name)
          .join(', '),
      )
    : msg('SourceModelNotThere', src.name);
  throw new UserError(msg('SourceModelNotFound', src.name, src.version, ws.ref.name, there), 'sourceModel');
}

const WS_PREFIX = /^azureml:\/\/subscriptions\//i;

/**
 * The URI a registry can resolve for a workspace URI: the short forms (azureml://jobs/...,
 * azureml://datastores/...) are relative to a workspace, which a registry does not have.
 */
export function longUri(uri: string, ws: WorkspaceRef): string {
  if (WS_PREFIX.test(uri)) return uri;
  const m = /^azureml:\/\/((?:jobs|datastores)\/.*)$/i.exec(uri);
  if (!m) return uri;
  return `azureml://subscriptions/${ws.subscriptionId}/resourceGroups/${ws.resourceGroup}/workspaces/${ws.name}/${m[1]}`;
}

interface StorageJson {
  name?: string;
  properties?: {
    publicNetworkAccess?: string;
    networkAcls?: { defaultAction?: string; resourceAccessRules?: Array<{ resourceId?: string }> | null };
  };
}

const STORAGE_API = '2023-05-01';

/**
 * Refuses, before anything is written, a promotion the registry could not copy: the workspace's
 * storage keeps registries out. When the storage account cannot be read, says so and goes on.
 */
export async function checkSharing(
  arm: ArmClient,
  ws: Workspace,
  wsName: string,
  reg: OpenedRegistry,
  warn: (line: string) => void,
): Promise<void> {
  const id = ws.storageAccount;
  if (!id) return;
  let st: StorageJson;
  try {
    st = await arm.get<StorageJson>(id, STORAGE_API);
  } catch (e) {
    warn(msg('SharingNotVerified', id.split('/').pop(), (e as { statusCode?: number }).statusCode ?? (e as Error).message, reg.ref.name));
    return;
  }
  const p = st.properties ?? {};
  const name = st.name ?? id.split('/').pop() ?? id;
  const rg = /\/resourceGroups\/([^/]+)/i.exec(id)?.[1] ?? '<resource-group>';
  const regId = reg.resource.id;
  const allowed = (p.networkAcls?.resourceAccessRules ?? []).some((r) => {
    const rid = (r.resourceId ?? '').toLowerCase();
    return rid === regId.toLowerCase() || rid === `${regId.slice(0, regId.lastIndexOf('/'))}/*`.toLowerCase();
  });
  const fix = msg('SharingFix', name, rg, name, rg, regId, reg.ref.name);
  if (p.publicNetworkAccess === 'Disabled')
    throw new UserError(msg('SharingBlockedDisabled', wsName, name, reg.ref.name, fix), 'registryName');
  if (p.networkAcls?.defaultAction === 'Deny' && !allowed)
    throw new UserError(msg('SharingBlockedRules', wsName, name, reg.ref.name, fix), 'registryName');
}
