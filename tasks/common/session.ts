/**
 * Glue shared by the workspace-scoped entry points: read the connection and workspace inputs,
 * sign in, and read the workspace, each failure naming its input.
 */
import type { AzureMachineLearningWorkspaces, Workspace } from '@azure/arm-machinelearning';
import type { AgentIo } from './agent';
import { getWorkspace, mlClient, validateWorkspaceInputs, type ArmContext, type WorkspaceRef } from './arm';
import { connectAzure, signIn } from './connection';

export interface WorkspaceSession {
  arm: ArmContext;
  client: AzureMachineLearningWorkspaces;
  ref: WorkspaceRef;
  workspace: Workspace;
}

const CONNECTION_FIX = 'Select an Azure Resource Manager service connection whose principal can read the workspace.';

/** Connection id from the `azureSubscription` input (required unless `optional`). */
export function connectionInput(io: AgentIo, optional = false): string | undefined {
  return optional ? io.input('azureSubscription') : io.input('azureSubscription', true, CONNECTION_FIX);
}

export function workspaceInputs(io: AgentIo): { resourceGroup: string; name: string } {
  const resourceGroup = io.input('resourceGroupName', true, 'Set the resource group that holds the Azure ML workspace.');
  const name = io.input('workspaceName', true, 'Set the Azure ML workspace name.');
  validateWorkspaceInputs(resourceGroup, name);
  return { resourceGroup, name };
}

/** Authenticate with the service connection and read the workspace. */
export async function openWorkspace(io: AgentIo, connectionId: string, ws: { resourceGroup: string; name: string }): Promise<WorkspaceSession> {
  const arm = connectAzure({ input: 'azureSubscription', connectionId, reader: io.endpoints, job: io.job(), proxy: io.proxy, secrets: io.secrets });
  await signIn(arm);
  const e = arm.endpoint;
  io.info(`Signed in to ${e.armUrl} as ${e.auth.kind === 'managedIdentity' ? `managed identity${e.auth.clientId ? ` ${e.auth.clientId}` : ''}` : e.auth.clientId} (${e.auth.kind}), subscription ${e.subscriptionId}.`);
  const client = mlClient(arm);
  const ref: WorkspaceRef = { subscriptionId: e.subscriptionId, resourceGroup: ws.resourceGroup, name: ws.name };
  const workspace = await getWorkspace(arm, client, ref);
  io.info(`Workspace '${ws.name}' in ${workspace.location ?? 'unknown region'}, public network access ${workspace.publicNetworkAccess ?? 'not set'}.`);
  return { arm, client, ref, workspace };
}
