/**
 * Glue shared by the workspace-scoped entry points: sign in with the service connection and read
 * the workspace, each failure translated into an actionable message. Loads the Azure SDKs.
 */
import type { AgentIo } from './agent';
import { readWorkspace, type WorkspaceSession } from './arm';
import { connectAzure, signIn } from './connection';
import type { WorkspaceInputs } from './inputs';
import { msg } from './messages';

/** Authenticate with the service connection and read the workspace. */
export async function openWorkspace(io: AgentIo, connectionId: string, ws: WorkspaceInputs): Promise<WorkspaceSession> {
  const arm = connectAzure({
    input: 'azureSubscription',
    connectionId,
    reader: io.endpoints,
    job: io.job(),
    proxy: io.proxy,
    secrets: io.secrets,
    trace: (line) => io.debug(line),
    signal: io.signal,
  });
  await signIn(arm);
  const e = arm.endpoint;
  const who =
    e.auth.kind !== 'managedIdentity'
      ? e.auth.clientId
      : e.auth.clientId
        ? msg('SignedInManagedIdentityId', e.auth.clientId)
        : msg('SignedInManagedIdentity');
  io.info(msg('SignedInToArm', e.armUrl, who, e.auth.kind, e.subscriptionId));
  return readWorkspace(arm, { subscriptionId: e.subscriptionId, resourceGroup: ws.resourceGroup, name: ws.name }, io);
}
