/**
 * Glue shared by the workspace-scoped entry points: sign in with the service connection and read
 * the workspace, each failure translated into an actionable message. Loads the Azure SDKs.
 */
import type { AzureMachineLearningWorkspaces, Workspace } from '@azure/arm-machinelearning';
import type { AgentIo } from './agent';
import { getWorkspace, mlClient, type ArmContext, type WorkspaceRef } from './arm';
import { connectAzure, signIn } from './connection';
import type { WorkspaceInputs } from './inputs';
import { msg } from './messages';

export interface WorkspaceSession {
  arm: ArmContext;
  client: AzureMachineLearningWorkspaces;
  ref: WorkspaceRef;
  workspace: Workspace;
}

/** Authenticate with the service connection and read the workspace. */
export async function openWorkspace(io: AgentIo, connectionId: string, ws: WorkspaceInputs): Promise<WorkspaceSession> {
  const arm = connectAzure({ input: 'azureSubscription', connectionId, reader: io.endpoints, job: io.job(), proxy: io.proxy, secrets: io.secrets });
  await signIn(arm);
  const e = arm.endpoint;
  const who = e.auth.kind !== 'managedIdentity' ? e.auth.clientId : e.auth.clientId ? msg('SignedInManagedIdentityId', e.auth.clientId) : msg('SignedInManagedIdentity');
  io.info(msg('SignedInToArm', e.armUrl, who, e.auth.kind, e.subscriptionId));
  const client = mlClient(arm);
  const ref: WorkspaceRef = { subscriptionId: e.subscriptionId, resourceGroup: ws.resourceGroup, name: ws.name };
  const workspace = await getWorkspace(arm, client, ref);
  io.info(msg('WorkspaceOpened', ws.name, workspace.location ?? msg('WorkspaceUnknownRegion'), workspace.publicNetworkAccess ?? msg('PublicNetworkAccessNotSet')));
  return { arm, client, ref, workspace };
}
