/**
 * Light-weight input helpers shared by the entry points. Nothing here loads the Azure SDKs,
 * so a task with a bad input fails in the time it takes node and task-lib to start.
 */
import type { AgentIo } from './agent';
import { parseProtectedBranches } from './branch-ref';
import { UserError } from './errors';
import type { GateSettings } from './gate';
import { msg } from './messages';

/** Connection id from the `azureSubscription` input (required unless `optional`). */
export function connectionInput(io: AgentIo, optional = false): string | undefined {
  return optional ? io.input('azureSubscription') : io.input('azureSubscription', true, msg('ConnectionInputFix'));
}

export interface WorkspaceInputs {
  resourceGroup: string;
  name: string;
}

/** Resource group and workspace names, checked against Azure's naming rules. */
export function workspaceInputs(io: AgentIo): WorkspaceInputs {
  const resourceGroup = io.input('resourceGroupName', true, msg('ResourceGroupInputFix'));
  const name = io.input('workspaceName', true, msg('WorkspaceInputFix'));
  if (!/^[-\w._()]{1,90}$/.test(resourceGroup) || resourceGroup.endsWith('.')) {
    throw new UserError(msg('InvalidResourceGroupName', 'resourceGroupName', resourceGroup), 'resourceGroupName');
  }
  if (!/^[a-zA-Z0-9][\w-]{2,32}$/.test(name)) {
    throw new UserError(msg('InvalidWorkspaceName', 'workspaceName', name), 'workspaceName');
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
    if (eq <= 0 || !l.slice(0, eq).trim()) throw new UserError(msg('NotKeyValue', name, i + 1, l, example), name);
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
