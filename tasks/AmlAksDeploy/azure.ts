/** AmlAksDeploy@1, the part that loads the Azure SDKs. */
import type { AgentIo } from '../common/agent';
import { UserError } from '../common/errors';
import type { WorkspaceInputs } from '../common/inputs';
import { openWorkspace } from '../common/session';

export async function run(io: AgentIo, connection: string, ws: WorkspaceInputs): Promise<void> {
  await openWorkspace(io, connection, ws);
  throw new UserError('AmlAksDeploy@1: this build validates inputs and access only; the operation itself ships with the task issue.');
}
