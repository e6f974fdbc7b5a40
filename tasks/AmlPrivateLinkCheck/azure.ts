/**
 * The Azure half of the check (loads the Azure SDKs): sign in with the service connection, read
 * the workspace, then scan it (scan.ts).
 */
import type { AgentIo } from '../common/agent';
import type { WorkspaceInputs } from '../common/inputs';
import { openWorkspace } from '../common/session';
import type { Scan } from './check';
import { msg } from './messages';
import { scanOpenedWorkspace, type ScanOptions } from './scan';

/** AmlPrivateLinkCheck@1: sign in with the service connection, then scan. */
export async function scanWorkspace(io: AgentIo, connection: string, ws: WorkspaceInputs, o: ScanOptions): Promise<Scan> {
  io.progress(5, msg('ProgressReadingWorkspace'));
  return scanOpenedWorkspace(await openWorkspace(io, connection, ws), o, io);
}
