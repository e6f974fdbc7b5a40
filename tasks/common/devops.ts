/**
 * Azure DevOps access with the job's own token: a WebApi connection, and the OIDC token
 * source for workload identity federation.
 */
import type * as http from 'node:http';
import * as azdev from 'azure-devops-node-api';
import type { IHttpClientResponse, IRequestHandler, IRequestOptions } from 'azure-devops-node-api/interfaces/common/VsoBaseInterfaces';
import { UserError } from './errors';
import { msg } from './messages';
import type { ProxyResolver } from './proxy';
import type { Secrets } from './secrets';
import { retry } from './sleep';

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

/**
 * The job token as a bearer, for the collection's own host and port only. The client library
 * picks hosts from answers (resource areas, redirects); a request to any other host is refused
 * here, before the header is set, with a message that names it.
 */
export class CollectionBearer implements IRequestHandler {
  private readonly host: string;
  private readonly port: number;
  constructor(
    private readonly token: string,
    collectionUri: string,
  ) {
    const u = new URL(collectionUri);
    this.host = u.hostname.toLowerCase();
    this.port = u.port ? Number(u.port) : u.protocol === 'https:' ? 443 : 80;
  }

  prepareRequest(options: http.RequestOptions): void {
    const host = String(options.host ?? options.hostname ?? '').toLowerCase();
    if (host !== this.host || Number(options.port) !== this.port) {
      throw new UserError(msg('JobTokenHostRefused', `${host}:${String(options.port)}`, `${this.host}:${this.port}`));
    }
    options.headers = { ...options.headers, Authorization: `Bearer ${this.token}`, 'X-TFS-FedAuthRedirect': 'Suppress' };
  }

  canHandleAuthentication(): boolean {
    return false;
  }

  handleAuthentication(): Promise<IHttpClientResponse> {
    return Promise.reject(new Error('not supported'));
  }
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
  return new azdev.WebApi(job.collectionUri, new CollectionBearer(job.accessToken, job.collectionUri), options);
}

/** Transient answers worth another try: throttling, server errors, dropped connections. */
function transient(e: unknown): boolean {
  const status = (e as { statusCode?: number }).statusCode;
  const code = (e as { code?: string }).code ?? '';
  return status === undefined
    ? /ECONNRESET|ETIMEDOUT|ECONNREFUSED|EAI_AGAIN|socket hang up/i.test(`${code} ${(e as Error).message}`)
    : status === 429 || status >= 500;
}

/**
 * A fresh OIDC token on every call: the credential asks again when its assertion ages out.
 * The request is a POST, which the DevOps client does not retry, so transient failures are
 * retried here (three tries; a cancelled run stops waiting).
 */
export function oidcTokenSource(
  job: JobContext,
  serviceConnectionId: string,
  proxy: ProxyResolver,
  secrets: Secrets,
  delaysMs: number[] = [1000, 3000],
  signal?: AbortSignal,
): () => Promise<string> {
  // One client for the run: its location lookup (an OPTIONS round trip) is done once, not per token.
  let taskApi: ReturnType<azdev.WebApi['getTaskApi']> | undefined;
  return async () => {
    taskApi ??= connectDevOps(job, proxy, secrets).getTaskApi();
    const api = await taskApi.catch((e: unknown) => {
      taskApi = undefined; // a failed lookup is tried again next time
      throw e;
    });
    const res = await retry(() => api.createOidcToken({}, job.projectId, job.hostType, job.planId, job.jobId, serviceConnectionId), {
      delaysMs,
      retryable: transient,
      ...(signal ? { signal } : {}),
    }).catch((e: unknown) => {
      const status = (e as { statusCode?: number }).statusCode;
      throw new UserError(
        msg('OidcTokenFailed', serviceConnectionId, status ?? msg('OidcNoResponse'), (e as Error).message.replace(/\.$/, '')),
      );
    });
    const token = res?.oidcToken;
    if (!token) throw new UserError(msg('OidcTokenMissing', serviceConnectionId));
    return secrets.protect(token);
  };
}
