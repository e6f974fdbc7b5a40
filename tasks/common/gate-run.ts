/**
 * Running the protected-branch gate from a task: facts from the job's variables, settings from
 * the task's inputs, Azure DevOps through the job token. Loads azure-devops-node-api.
 */
import * as path from 'node:path';
import type { AgentIo } from './agent';
import { connectDevOps } from './devops';
import { evaluateGate, type GateResult, type GateSettings } from './gate';
import { devOpsGateReader } from './gate-devops';
import { checkedOutCommit } from './git-head';
import { msg } from './messages';

/**
 * Where this repository is checked out: Build.Repository.LocalPath, the sources folder, or (with
 * several repositories checked out) the sources folder's subfolder named after the repository.
 */
function checkoutFolders(v: (name: string) => string): string[] {
  const sources = v('Build.SourcesDirectory');
  const name = v('Build.Repository.Name').split('/').pop() ?? '';
  return [v('Build.Repository.LocalPath'), sources, sources && name ? path.join(sources, name) : ''].filter(Boolean);
}

/** Refuse (UserError) unless the run may act in production; log what was verified. */
export async function enforceGate(io: AgentIo, settings: GateSettings, serviceConnectionId: string): Promise<GateResult> {
  const v = (n: string) => io.variable(n) ?? '';
  const job = io.job();
  const facts = {
    sourceBranch: v('Build.SourceBranch'),
    reason: v('Build.Reason'),
    provider: v('Build.Repository.Provider'),
    repositoryId: v('Build.Repository.ID'),
    projectId: job.projectId,
    sourceVersion: v('Build.SourceVersion'),
    serviceConnectionId,
    ...(() => {
      const head = checkedOutCommit(...checkoutFolders(v));
      return head ? { checkedOut: head } : {};
    })(),
  };
  io.info(msg('GateChecking', facts.sourceBranch || msg('GateThisRun'), settings.protectedBranches.join(', ')));
  const reader = devOpsGateReader(connectDevOps(job, io.proxy, io.secrets));
  const result = await evaluateGate(facts, settings, reader);
  io.info(result.policy ? msg('GatePassed', result.branch, result.policy, facts.sourceVersion.slice(0, 12)) : msg('GatePassedOnName', result.branch));
  for (const w of result.warnings) io.warn(w);
  return result;
}
