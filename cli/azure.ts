/**
 * The Azure half of the jump-host command (loads the Azure SDKs): the developer's own sign-in
 * (`az login`, environment variables, workload or managed identity: @azure/identity's
 * DefaultAzureCredential), then the same discovery and posture scan as AmlPrivateLinkCheck@1.
 */
import { DefaultAzureCredential } from '@azure/identity';
import { ArmClient, readWorkspace, workspaceId, type ArmContext, type WorkspaceRef } from '../tasks/common/arm';
import { PUBLIC_CLOUDS } from '../tasks/common/endpoint';
import { ML_API_VERSION } from '../tasks/common/workspace-arm';
import { errorLine, translateAzureError, UserError } from '../tasks/common/errors';
import type { Scan } from '../tasks/AmlPrivateLinkCheck/check';
import { scanOpenedWorkspace, type ScanLog } from '../tasks/AmlPrivateLinkCheck/scan';

export interface CliScanOptions {
  workspace: string;
  resourceGroup: string;
  subscription?: string;
  cloud: string;
  armUrl?: string;
  posture: boolean;
  access?: { allowed: string[] };
}

interface SubscriptionList {
  value: Array<{ subscriptionId: string; displayName?: string; state?: string }>;
}

export async function scanWithDeveloperLogin(o: CliScanOptions, log: ScanLog): Promise<Scan> {
  const cloud = PUBLIC_CLOUDS[o.cloud.toLowerCase()];
  if (!cloud)
    throw new UserError(
      `--cloud '${o.cloud}' is not known. Use one of: ${Object.values(PUBLIC_CLOUDS)
        .map((c) => c.environment)
        .join(', ')}; for another cloud give --arm-url.`,
    );
  const armUrl = (o.armUrl ?? cloud.armUrl).replace(/\/+$/, '');
  // AZURE_AUTHORITY_HOST is what the Azure SDKs and CLI honour for a private or sovereign authority.
  const authorityHost = (process.env.AZURE_AUTHORITY_HOST ?? cloud.authorityHost).replace(/\/+$/, '');
  // Instance discovery only knows the public clouds' authorities; a private one (Azure Stack) would fail it.
  const knownAuthority = Object.values(PUBLIC_CLOUDS).some((c) => c.authorityHost === authorityHost);
  const credential = new DefaultAzureCredential({ authorityHost, disableInstanceDiscovery: !knownAuthority });
  const target = {
    name: 'your Azure sign-in',
    tenantId: process.env.AZURE_TENANT_ID ?? '',
    subscriptionId: '',
    armUrl,
    authorityHost,
    armScope: cloud.armScope,
    environment: cloud.environment,
  };
  // HTTPS_PROXY / NO_PROXY from the environment apply (the Azure SDK's default proxy policy).
  const arm: ArmContext = { endpoint: target, credential, proxy: () => undefined };
  try {
    await credential.getToken(target.armScope);
  } catch (e) {
    throw new UserError(
      `No Azure sign-in found for ${armUrl}: ${errorLine(e).replace(/\.+$/, '')}. Run 'az login' (on a jump host: 'az login --use-device-code'), or set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET; or check names without Azure by giving --fqdns and no --workspace.`,
    );
  }
  target.subscriptionId = o.subscription ?? process.env.AZURE_SUBSCRIPTION_ID ?? (await findSubscription(arm, o));
  log.info(`Signed in to ${armUrl}, subscription ${target.subscriptionId}.`);
  const session = await readWorkspace(
    arm,
    { subscriptionId: target.subscriptionId, resourceGroup: o.resourceGroup, name: o.workspace },
    log,
  );
  // A person at a jump host is not the pipeline: nobody is exempt but the principals allowed.
  return scanOpenedWorkspace(
    session,
    { posture: o.posture, diagnose: false, ...(o.access ? { access: { ...o.access, exemptCaller: false } } : {}) },
    log,
  );
}

/** Without --subscription: the only enabled subscription, or the one holding the workspace. */
async function findSubscription(arm: ArmContext, o: CliScanOptions): Promise<string> {
  const client = new ArmClient(arm);
  let subs: SubscriptionList;
  try {
    subs = await client.get<SubscriptionList>('/subscriptions', '2022-12-01');
  } catch (e) {
    throw translateAzureError(e, { action: 'list your subscriptions' });
  }
  const enabled = subs.value.filter((s) => (s.state ?? 'Enabled') === 'Enabled');
  if (enabled.length === 1) return enabled[0]!.subscriptionId;
  const ref = (subscriptionId: string): WorkspaceRef => ({ subscriptionId, resourceGroup: o.resourceGroup, name: o.workspace });
  const found = (
    await Promise.all(
      enabled.map(async (s) =>
        (await client.get(workspaceId(ref(s.subscriptionId)), ML_API_VERSION).then(
          () => true,
          () => false,
        ))
          ? s.subscriptionId
          : undefined,
      ),
    )
  ).filter((s): s is string => !!s);
  if (found.length === 1) return found[0]!;
  throw new UserError(
    enabled.length === 0
      ? 'Your sign-in has no enabled subscription. Give --subscription <id>, or sign in with an account that can read the workspace.'
      : `Workspace '${o.workspace}' in resource group '${o.resourceGroup}' was ${found.length ? 'found in several' : 'not found in any'} of your ${enabled.length} subscriptions. Give --subscription <id>.`,
  );
}
