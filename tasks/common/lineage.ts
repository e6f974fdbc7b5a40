/**
 * Lineage: the Azure DevOps run that made an Azure ML job, model or deployment, as tags.
 * The same keys everywhere, so a model version can be traced back to its run and commit, and
 * a re-run of the same run can be recognised (idempotence).
 */
export type VariableReader = (name: string) => string | undefined;

export const LINEAGE_KEYS = {
  organization: 'ado.organization',
  project: 'ado.project',
  pipeline: 'ado.pipeline',
  runId: 'ado.runId',
  runUrl: 'ado.runUrl',
  repository: 'ado.repository',
  branch: 'ado.branch',
  commit: 'ado.commit',
  /** The Azure ML job a model or deployment came from (set by the task that knows it). */
  jobName: 'ado.jobName',
  /** A model promoted to a registry: the ARM id of the workspace it came from. */
  sourceWorkspace: 'ado.sourceWorkspace',
  /** A model shared from a workspace version: `name:version` in that workspace. */
  sourceModel: 'ado.sourceModel',
} as const;

/** Tags for the current run (every key but jobName and the source keys); keys whose variable is missing are left out. */
export function lineageTags(v: VariableReader): Record<string, string> {
  const collection = (v('System.CollectionUri') ?? '').replace(/\/?$/, '/');
  const project = v('System.TeamProject');
  const runId = v('Build.BuildId');
  const org =
    /dev\.azure\.com\/([^/]+)/.exec(collection)?.[1] ??
    /https?:\/\/([^.]+)\.visualstudio\.com/.exec(collection)?.[1] ??
    collection.replace(/\/$/, '');
  const tags: Record<string, string | undefined> = {
    [LINEAGE_KEYS.organization]: org || undefined,
    [LINEAGE_KEYS.project]: project,
    [LINEAGE_KEYS.pipeline]: v('Build.DefinitionName'),
    [LINEAGE_KEYS.runId]: runId,
    [LINEAGE_KEYS.runUrl]:
      collection !== '/' && project && runId ? `${collection}${encodeURIComponent(project)}/_build/results?buildId=${runId}` : undefined,
    [LINEAGE_KEYS.repository]: v('Build.Repository.Name'),
    [LINEAGE_KEYS.branch]: v('Build.SourceBranch'),
    [LINEAGE_KEYS.commit]: v('Build.SourceVersion'),
  };
  return Object.fromEntries(Object.entries(tags).filter((e): e is [string, string] => !!e[1]));
}
