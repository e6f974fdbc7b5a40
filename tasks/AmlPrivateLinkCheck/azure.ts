/**
 * The Azure half of the check (loads the Azure SDKs): sign in with the service connection, read
 * the workspace, then scan it (scan.ts), and the registry it deploys from when one is named
 * (registry-scan.ts).
 */
import type { AgentIo } from '../common/agent';
import type { GateSettings } from '../common/gate';
import { enforceGate } from '../common/gate-run';
import type { WorkspaceInputs } from '../common/inputs';
import { ArmClient } from '../common/arm';
import { openWorkspace } from '../common/session';
import type { Scan } from './check';
import { msg } from './messages';
import { scanRegistry, type RegistryScanInput } from './registry-scan';
import { scanOpenedWorkspace, type ScanOptions } from './scan';

/** AmlPrivateLinkCheck@1: the branch gate (unless turned off), sign in with the service connection, then scan. */
export async function scanWorkspace(
  io: AgentIo,
  connection: string,
  ws: WorkspaceInputs,
  o: ScanOptions,
  gate: GateSettings | undefined,
  registry?: RegistryScanInput,
): Promise<Scan> {
  if (gate) await enforceGate(io, gate, connection);
  else io.warn(msg('BranchGateOffReadOnly'));
  io.progress(5, msg('ProgressReadingWorkspace'));
  const session = await openWorkspace(io, connection, ws);
  const scan = await scanOpenedWorkspace(session, o, io);
  if (!registry) return scan;
  // The registry the workspace deploys from: its names and posture join the workspace's.
  io.progress(35, msg('ProgressRegistry', registry.name));
  const where = {
    subscriptionId: session.ref.subscriptionId,
    workspace: session.ref.name,
    region: session.workspace.location ?? '',
    environment: session.arm.endpoint.environment,
    connection: session.arm.endpoint.name,
  };
  const r = await scanRegistry(new ArmClient(session.arm), registry, where, o.posture);
  for (const n of r.notes) io.warn(n);
  io.info(msg('RegistryDiscovered', registry.name, r.targets.length));
  return {
    ...scan,
    targets: [...scan.targets, ...r.targets],
    posture: [...scan.posture, ...r.posture],
    notes: [...scan.notes, ...r.notes],
  };
}
