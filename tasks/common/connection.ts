/**
 * From a service connection input to an authenticated ARM context. Pure: the agent adapter
 * supplies the endpoint reader, the job context, the proxy resolver and the secret sink.
 */
import type { TokenCredential } from '@azure/identity';
import type { ArmContext } from './arm';
import { createCredential, renewableCredential } from './auth';
import { oidcTokenSource, type JobContext } from './devops';
import { readAzureRmEndpoint, type AzureRmEndpoint, type EndpointReader } from './endpoint';
import { translateAzureError } from './errors';
import { msg } from './messages';
import type { Trace } from './http';
import type { ProxyResolver } from './proxy';
import type { Secrets } from './secrets';

export interface ConnectOptions {
  input: string;
  connectionId: string;
  reader: EndpointReader;
  job: JobContext;
  proxy: ProxyResolver;
  secrets: Secrets;
  /** System.Debug request lines. */
  trace?: Trace;
  /** The run's cancellation: retries stop waiting. */
  signal?: AbortSignal;
}

export function connectAzure(o: ConnectOptions): ArmContext & { endpoint: AzureRmEndpoint } {
  const endpoint = readAzureRmEndpoint(o.input, o.connectionId, o.reader);
  const oidc =
    endpoint.auth.kind === 'workloadIdentity' ? oidcTokenSource(o.job, o.connectionId, o.proxy, o.secrets, undefined, o.signal) : undefined;
  const credential = renewableCredential(
    () => createCredential(endpoint, { proxy: o.proxy, secrets: o.secrets, ...(oidc ? { oidcToken: oidc } : {}) }),
    o.secrets,
  );
  return { endpoint, credential, proxy: o.proxy, ...(o.trace ? { trace: o.trace } : {}) };
}

/** Get one ARM token up front, so a sign-in problem fails with a clear message before any work. */
export async function signIn(ctx: ArmContext): Promise<void> {
  try {
    const token = await (ctx.credential as TokenCredential).getToken(ctx.endpoint.armScope);
    if (!token) throw new Error(msg('ArmNoTokenReturned'));
  } catch (e) {
    const { authorityHost, tenantId } = ctx.endpoint;
    throw translateAzureError(e, {
      action: tenantId ? msg('ActionSignIn', authorityHost, tenantId) : msg('ActionSignInManagedIdentity', authorityHost),
      connection: ctx.endpoint.name,
    });
  }
}
