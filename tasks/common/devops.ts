/**
 * Azure DevOps access with the job's own token: a WebApi connection, and the OIDC token
 * source for workload identity federation.
 */
import * as azdev from 'azure-devops-node-api';
import type { IRequestOptions } from 'azure-devops-node-api/interfaces/common/VsoBaseInterfaces';
import { UserError } from './errors';
import { msg } from './messages';
import type { ProxyResolver } from './proxy';
import type { Secrets } from './secrets';

export interface JobContext {
  /** System.CollectionUri, e.g. https://dev.azure.com/contoso/ */
  collectionUri: string;
  /** System.TeamProjectId */
  projectId: string;
  /** System.HostType: build or release */
  hostType: string;
  planId: string;
  jobId: string;
  /** The job access token from the SystemVssConnection endpoint. */
  accessToken: string | undefined;
}

export function connectDevOps(job: JobContext, proxy: ProxyResolver, secrets: Secrets): azdev.WebApi {
  if (!job.collectionUri) throw new UserError(msg('NoCollectionUri'));
  if (!job.accessToken) {
    throw new UserError(msg('NoJobAccessToken'));
  }
  secrets.protect(job.accessToken);
  const p = proxy(job.collectionUri);
  const options: IRequestOptions = { allowRetries: true, maxRetries: 3, socketTimeout: 60_000 };
  if (p) options.proxy = { proxyUrl: p.proxyUrl, proxyUsername: p.proxyUsername ?? '', proxyPassword: p.proxyPassword ?? '' };
  return new azdev.WebApi(job.collectionUri, azdev.getBearerHandler(job.accessToken), options);
}

/** Transient answers worth another try: throttling, server errors, dropped connections. */
function transient(e: unknown): boolean {
  const status = (e as { statusCode?: number }).statusCode;
  const code = (e as { code?: string }).code ?? '';
  return status === undefined ? /ECONNRESET|ETIMEDOUT|ECONNREFUSED|EAI_AGAIN|socket hang up/i.test(`${code} ${(e as Error).message}`) : status === 429 || status >= 500;
}

/**
 * A fresh OIDC token on every call: the credential asks again when its assertion ages out.
 * The request is a POST, which the DevOps client does not retry, so transient failures are
 * retried here (three tries).
 */
export function oidcTokenSource(job: JobContext, serviceConnectionId: string, proxy: ProxyResolver, secrets: Secrets, delaysMs: number[] = [1000, 3000]): () => Promise<string> {
  // One client for the run: its location lookup (an OPTIONS round trip) is done once, not per token.
  let taskApi: ReturnType<azdev.WebApi['getTaskApi']> | undefined;
  return async () => {
    taskApi ??= connectDevOps(job, proxy, secrets).getTaskApi();
    const api = await taskApi.catch((e: unknown) => {
      taskApi = undefined; // a failed lookup is tried again next time
      throw e;
    });
    let token: string | undefined;
    for (let attempt = 0; ; attempt++) {
      try {
        const res = await api.createOidcToken({}, job.projectId, job.hostType, job.planId, job.jobId, serviceConnectionId);
        token = res?.oidcToken;
        break;
      } catch (e) {
        if (attempt < delaysMs.length && transient(e)) {
          await new Promise((r) => setTimeout(r, delaysMs[attempt]));
          continue;
        }
        const status = (e as { statusCode?: number }).statusCode;
        throw new UserError(msg('OidcTokenFailed', serviceConnectionId, status ?? msg('OidcNoResponse'), (e as Error).message.replace(/\.$/, '')));
      }
    }
    if (!token) throw new UserError(msg('OidcTokenMissing', serviceConnectionId));
    return secrets.protect(token);
  };
}
