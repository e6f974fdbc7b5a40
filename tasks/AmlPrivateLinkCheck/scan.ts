/**
 * Discovery and posture of a workspace already read, with any ARM credential: shared by
 * AmlPrivateLinkCheck@1 (service connection) and the jump-host command (developer sign-in).
 */
import { ArmClient, type WorkspaceSession } from '../common/arm';
import { tokenObjectId } from '../common/auth';
import { auditWorkspaceAccess } from './access-read';
import type { Scan } from './check';
import { discover, type Discovery } from './discovery';
import { msg } from './messages';
import {
  clusterChecks,
  computeChecks,
  imageBuildCheck,
  managedEndpointChecks,
  managedNetworkChecks,
  scoringHosts,
} from './network-posture';
import { readChildren, readNetworkFacts, type WorkspaceChildren } from './network-read';
import { assessPosture, diagnoseChecks, isClosed, type PostureCheck } from './posture';

/** Where the scan reports what it is doing: the agent's log, or the terminal. */
export interface ScanLog {
  info(line: string): void;
  warn(line: string): void;
  progress(percent: number, text: string): void;
}

export interface ScanOptions {
  posture: boolean;
  diagnose: boolean;
  /**
   * The access audit, with the object ids allowed to write; absent: no audit. The caller (the
   * pipeline's identity) is exempt unless `exemptCaller` is false (a person at a jump host).
   */
  access?: { allowed: string[]; exemptCaller?: boolean };
}

/** Discovery and posture of a workspace already read, with any ARM credential. */
export async function scanOpenedWorkspace(session: WorkspaceSession, o: ScanOptions, log: ScanLog): Promise<Scan> {
  const { arm, client, ref, workspace } = session;
  const armClient = new ArmClient(arm);
  log.progress(15, msg('ProgressDiscovering'));
  const d = await discover(armClient, workspace, arm.endpoint.environment, (l) => log.warn(l));
  log.info(msg('Discovered', d.targets.length, d.workspaceConnections.length, d.dependencies.length));
  const checks = o.posture ? assessPosture(workspace, ref.resourceGroup, d) : [];
  const notes = [...d.notes];
  // Computes and endpoints serve both the network posture and the audit's exemptions: read once.
  const children = o.posture || o.access ? await readChildren(armClient, ref) : undefined;
  for (const path of children?.unreadable ?? []) notes.push(msg('ChildrenUnreadable', path));
  let scoring: Scan['scoring'] = [];
  if (o.posture && children) {
    log.progress(20, msg('ProgressNetwork'));
    const posture = await networkPosture(armClient, ref, workspace.name ?? ref.name, d, children);
    checks.push(...posture.checks);
    scoring = posture.scoring;
  }
  if (o.posture && o.diagnose) {
    log.progress(25, msg('ProgressDiagnose'));
    const diag = await client.workspaces.beginDiagnoseAndWait(ref.resourceGroup, ref.name, { parameters: { value: {} } });
    checks.push(...diagnoseChecks(diag.value));
  }
  let access: Scan['access'];
  if (o.access && children) {
    log.progress(30, msg('ProgressAccess'));
    const token = o.access.exemptCaller === false ? null : await arm.credential.getToken(arm.endpoint.armScope);
    const r = await auditWorkspaceAccess(armClient, ref, workspace, children, {
      allowed: o.access.allowed,
      ownPrincipalId: token ? tokenObjectId(token.token) : undefined,
      callerIsPipeline: o.access.exemptCaller !== false,
    });
    checks.push(...r.checks);
    notes.push(...r.notes);
    access = r.audit;
    if (r.audit) log.info(msg('AccessAudited', r.audit.assignmentsRead, r.audit.writers.length));
  }
  return { targets: d.targets, posture: checks, notes, ...(scoring ? { scoring } : {}), ...(access ? { access } : {}) };
}

/** Managed network, image builds, computes and their subnets, AKS API servers, managed endpoints. */
async function networkPosture(
  arm: ArmClient,
  ref: WorkspaceSession['ref'],
  ws: string,
  d: Discovery,
  children: WorkspaceChildren,
): Promise<{ checks: PostureCheck[]; scoring: Scan['scoring'] }> {
  const facts = await readNetworkFacts(arm, ref, children);
  const rg = ref.resourceGroup;
  const registry = d.dependencies.find((x) => x.kind === 'registry');
  const managedIsolation = (facts.managedNetwork?.isolationMode ?? 'Disabled') !== 'Disabled';
  const checks = [
    ...managedNetworkChecks(ws, rg, facts.managedNetwork),
    ...imageBuildCheck(ws, rg, !!registry && registry.readable && isClosed(registry), facts.imageBuildCompute, children.computes),
    ...computeChecks(ws, rg, children.computes, managedIsolation, facts.subnets),
    ...clusterChecks(children.computes, facts.clusters),
    ...managedEndpointChecks(ws, rg, children.endpoints),
  ];
  return { checks, scoring: scoringHosts(children.endpoints) };
}
