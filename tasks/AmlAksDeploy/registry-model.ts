/**
 * A model from an Azure ML registry (`azureml://registries/<r>/models/<m>/versions/<v>`), looked
 * up before anything is written: the registry (found by name in the connection's subscription),
 * the workspace in one of its regions, the version there; and where the model came from, read
 * from the lineage its promotion recorded, for the log and the run summary.
 */
import type { AgentIo } from '../common/agent';
import type { ArmClient, WorkspaceRef } from '../common/arm';
import { UserError } from '../common/errors';
import { LINEAGE_KEYS } from '../common/lineage';
import { openRegistry, requireRegion } from '../common/registry';
import { registryModelUri } from '../common/registry-uri';
import type { ArmResource } from '../common/workspace-arm';
import { msg } from './messages';

type VersionProps = { modelType?: string; isArchived?: boolean; tags?: Record<string, string> | null };

/** "workspace mlw-dev, job train_42, commit 1a2b3c4 on refs/heads/main, run 4711", from the version's lineage tags. */
export function provenance(tags: Record<string, string>): string {
  const t = (k: string): string | undefined => tags[k] || undefined;
  const ws = t(LINEAGE_KEYS.sourceWorkspace)?.split('/').pop();
  const commit = t(LINEAGE_KEYS.commit);
  const parts = [
    ws && msg('ProvenanceWorkspace', ws),
    t(LINEAGE_KEYS.sourceModel) && msg('ProvenanceModel', t(LINEAGE_KEYS.sourceModel)),
    t(LINEAGE_KEYS.jobName) && msg('ProvenanceJob', t(LINEAGE_KEYS.jobName)),
    commit && msg('ProvenanceCommit', commit.slice(0, 12), t(LINEAGE_KEYS.branch) ?? '?'),
    t(LINEAGE_KEYS.runId) && msg('ProvenanceRun', t(LINEAGE_KEYS.runUrl) ?? t(LINEAGE_KEYS.runId)),
  ].filter((p): p is string => !!p);
  return parts.length ? parts.join(', ') : msg('ProvenanceUnknown');
}

/** The versions a model has there (the first 20), or that it has none: the second half of a "not found". */
export function versionsThere(versions: Array<{ name: string }>, model: string): string {
  if (!versions.length) return msg('ModelNotRegisteredThere', model);
  return msg(
    'ModelVersionsThere',
    versions
      .slice(0, 20)
      .map((v) => v.name)
      .join(', '),
  );
}

export async function checkRegistryModel(
  io: AgentIo,
  arm: ArmClient,
  workspace: { ref: WorkspaceRef; location?: string | undefined },
  ref: { registry: string; name: string; version: string },
  connection: string,
): Promise<{ id: string; type: string; from: string }> {
  const reg = await openRegistry(arm, ref.registry, {
    subscriptionId: workspace.ref.subscriptionId,
    input: 'model',
    groupInput: 'model',
    connection,
  });
  requireRegion(reg, { name: workspace.ref.name, location: workspace.location }, 'model');
  const path = `models/${encodeURIComponent(ref.name)}/versions/${encodeURIComponent(ref.version)}`;
  const found = await reg.assets.find<ArmResource<VersionProps>>(path);
  if (!found) {
    const versions = await reg.assets.list(`models/${encodeURIComponent(ref.name)}/versions`).catch(() => []);
    throw new UserError(
      msg('RegistryModelVersionNotFound', ref.name, ref.version, reg.ref.name, versionsThere(versions, ref.name)),
      'model',
    );
  }
  if (found.properties?.isArchived) io.warn(msg('ModelArchived', ref.name, ref.version));
  const from = msg('RegistryModelFrom', reg.ref.name, provenance(found.properties?.tags ?? {}));
  io.info(msg('RegistryModelFound', ref.name, ref.version, from));
  return { id: registryModelUri(reg.ref.name, ref.name, ref.version), type: String(found.properties?.modelType ?? 'CustomModel'), from };
}
