/**
 * The Azure half of the check (loads the Azure SDKs): sign in with the service connection, read
 * the workspace, then scan it (scan.ts).
 */
import type { AgentIo } from '../common/agent';
import type { GateSettings } from '../common/gate';
import { enforceGate } from '../common/gate-run';
import type { WorkspaceInputs } from '../common/inputs';
import { openWorkspace } from '../common/session';
import type { Scan } from './check';
import { msg } from './messages';
import { scanOpenedWorkspace, type ScanOptions } from './scan';

/** AmlPrivateLinkCheck@1: the branch gate (unless turned off), sign in with the service connection, then scan. */
export async function scanWorkspace(io: AgentIo, connection: string, ws: WorkspaceInputs, o: ScanOptions, gate: GateSettings | undefined): Promise<Scan> {
  if (gate) await enforceGate(io, gate, connection);
  else io.warn(msg('BranchGateOffReadOnly'));
  io.progress(5, msg('ProgressReadingWorkspace'));
  return scanOpenedWorkspace(await openWorkspace(io, connection, ws), o, io);
}
