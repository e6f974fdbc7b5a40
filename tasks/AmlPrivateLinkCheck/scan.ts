/**
 * Discovery and posture of a workspace already read, with any ARM credential: shared by
 * AmlPrivateLinkCheck@1 (service connection) and the jump-host command (developer sign-in).
 */
import { ArmClient, type WorkspaceSession } from '../common/arm';
import { tokenObjectId } from '../common/auth';
import { auditWorkspaceAccess } from './access-read';
import type { Scan } from './check';
import { discover } from './discovery';
import { msg } from './messages';
import { assessPosture, diagnoseChecks } from './posture';

/** Where the scan reports what it is doing: the agent's log, or the terminal. */
export interface ScanLog {
  info(line: string): void;
  warn(line: string): void;
  progress(percent: number, text: string): void;
}

export interface ScanOptions {
  posture: boolean;
  diagnose: boolean;
  /** The access audit, with the object ids allowed to write besides the caller; absent: no audit. */
  access?: { allowed: string[] };
}

/** Discovery and posture of a workspace already read, with any ARM credential. */
export async function scanOpenedWorkspace(session: WorkspaceSession, o: ScanOptions, log: ScanLog): Promise<Scan> {
  const { arm, client, ref, workspace } = session;
  log.progress(15, msg('ProgressDiscovering'));
  const d = await discover(new ArmClient(arm), workspace, arm.endpoint.environment, (l) => log.warn(l));
  log.info(msg('Discovered', d.targets.length, d.workspaceConnections.length, d.dependencies.length));
  const checks = o.posture ? assessPosture(workspace, ref.resourceGroup, d) : [];
  if (o.posture && o.diagnose) {
    log.progress(25, msg('ProgressDiagnose'));
    const diag = await client.workspaces.beginDiagnoseAndWait(ref.resourceGroup, ref.name, { parameters: { value: {} } });
    checks.push(...diagnoseChecks(diag.value));
  }
  const notes = [...d.notes];
  let access: Scan['access'];
  if (o.access) {
    log.progress(30, msg('ProgressAccess'));
    const token = await arm.credential.getToken(arm.endpoint.armScope);
    const r = await auditWorkspaceAccess(new ArmClient(arm), ref, workspace, { allowed: o.access.allowed, ownPrincipalId: token ? tokenObjectId(token.token) : undefined });
    checks.push(...r.checks);
    notes.push(...r.notes);
    access = r.audit;
    if (r.audit) log.info(msg('AccessAudited', r.audit.assignmentsRead, r.audit.writers.length));
  }
  return { targets: d.targets, posture: checks, notes, ...(access ? { access } : {}) };
}
