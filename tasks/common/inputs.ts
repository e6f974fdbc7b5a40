/**
 * Light-weight input helpers shared by the entry points. Nothing here loads the Azure SDKs,
 * so a task with a bad input fails in the time it takes node and task-lib to start.
 */
import type { AgentIo } from './agent';
import { UserError } from './errors';
import { parseProtectedBranches, type GateSettings } from './gate';

const CONNECTION_FIX = 'Select an Azure Resource Manager service connection whose principal can read the workspace.';

/** Connection id from the `azureSubscription` input (required unless `optional`). */
export function connectionInput(io: AgentIo, optional = false): string | undefined {
  return optional ? io.input('azureSubscription') : io.input('azureSubscription', true, CONNECTION_FIX);
}

export interface WorkspaceInputs {
  resourceGroup: string;
  name: string;
}

/** Resource group and workspace names, checked against Azure's naming rules. */
export function workspaceInputs(io: AgentIo): WorkspaceInputs {
  const resourceGroup = io.input('resourceGroupName', true, 'Set the resource group that holds the Azure ML workspace.');
  const name = io.input('workspaceName', true, 'Set the Azure ML workspace name.');
  if (!/^[-\w._()]{1,90}$/.test(resourceGroup) || resourceGroup.endsWith('.')) {
    throw new UserError(`Input 'resourceGroupName': '${resourceGroup}' is not a valid resource group name. Use 1-90 letters, digits, '-', '_', '.', '(' or ')', not ending in '.'.`, 'resourceGroupName');
  }
  if (!/^[a-zA-Z0-9][\w-]{2,32}$/.test(name)) {
    throw new UserError(`Input 'workspaceName': '${name}' is not a valid Azure ML workspace name. Use 3-33 letters, digits, '-' or '_', starting with a letter or digit.`, 'workspaceName');
  }
  return { resourceGroup, name };
}

/**
 * A multi-line `key=value` input such as `tags`: one pair per line, '#' starts a comment line.
 * Keys and values are trimmed; a line without a key fails with the line number.
 */
export function keyValueLines(io: AgentIo, name: string, example: string): Record<string, string> {
  const out: Record<string, string> = {};
  io.lines(name).forEach((l, i) => {
    const eq = l.indexOf('=');
    if (eq <= 0 || !l.slice(0, eq).trim()) throw new UserError(`Input '${name}': line ${i + 1} '${l}' is not key=value. Write one pair per line, e.g. ${example}.`, name);
    out[l.slice(0, eq).trim()] = l.slice(eq + 1).trim();
  });
  return out;
}

/** The three gate inputs, validated. */
export function gateSettings(io: AgentIo): GateSettings {
  return {
    protectedBranches: parseProtectedBranches(io.input('protectedBranches') ?? 'refs/heads/main'),
    requireBranchPolicy: io.bool('requireBranchPolicy', true),
    minimumReviewers: io.int('minimumReviewers', 1, 1, 10),
  };
}

/** The gate settings, or undefined when the task's enforceBranchGate input turns the gate off. */
export function optionalGateSettings(io: AgentIo): GateSettings | undefined {
  return io.bool('enforceBranchGate', true) ? gateSettings(io) : undefined;
}
