/**
 * The one HTTP stack of the tasks (agentPipeline): bearer token, the agent's proxy for the target
 * host, bounded retries of 429/5xx and network errors honouring Retry-After, a per-try timeout,
 * the allowed-host rule and the System.Debug trace. JsonClient (ARM providers the SDK does not
 * cover, Azure ML's data plane, scoring) and the Azure ML SDK client (arm.ts) both send through it.
 */
import {
  bearerTokenAuthenticationPolicy,
  createDefaultHttpClient,
  createHttpHeaders,
  createPipelineFromOptions,
  createPipelineRequest,
  RestError,
  type HttpClient,
  type HttpMethods,
  type Pipeline,
  type PipelinePolicy,
  type PipelineResponse,
} from '@azure/core-rest-pipeline';
import type { TokenCredential } from '@azure/identity';
import { RENEW_CLAIMS } from './auth';
import { UserError } from './errors';
import { originRule, type HostRule } from './hosts';
import { msg } from './messages';
import { toProxySettings, type ProxyResolver } from './proxy';

export const USER_AGENT = 'aml-secure-mlops';

/**
 * Bearer auth that survives a token ARM rejects before its expiry (revoked, clock skew): on a 401
 * with error="invalid_token" it renews the credential once (see RENEW_CLAIMS) and resends.
 */
export function bearerAuthPolicy(credential: TokenCredential, scopes: string[]): PipelinePolicy {
  return bearerTokenAuthenticationPolicy({
    credential,
    scopes,
    challengeCallbacks: {
      async authorizeRequestOnChallenge({ response, request, getAccessToken, scopes: s }) {
        const challenge = response.headers.get('WWW-Authenticate') ?? '';
        if (response.status !== 401 || !/invalid_token/i.test(challenge)) return false;
        const token = await getAccessToken(s, { claims: RENEW_CLAIMS });
        if (!token) return false;
        request.headers.set('Authorization', `Bearer ${token.token}`);
        return true;
      },
    },
  });
}

/**
 * Refuses, before any credential is attached, a request to a URL outside `rule`: a host that a
 * response named (discovery document, nextLink, an operation's Location) never receives the token.
 */
export function hostPolicy(rule: HostRule): PipelinePolicy {
  return {
    name: 'amlTokenHosts',
    sendRequest(request, next) {
      const url = new URL(request.url);
      if (!rule.allows(url)) return Promise.reject(new UserError(msg('TokenHostRefused', url.host, rule.describe)));
      return next(request);
    },
  };
}

/** A line per request for System.Debug: method, host and path (never the query, which may hold a SAS). */
export type Trace = (line: string) => void;

/**
 * Logs each try's method, host, path, status, time and the ids Azure support asks for
 * (x-ms-correlation-request-id, x-ms-request-id). No header values besides those ids, no query,
 * no body: nothing secret reaches the line.
 */
export function tracePolicy(trace: Trace): PipelinePolicy {
  return {
    name: 'amlRequestTrace',
    async sendRequest(request, next) {
      const url = new URL(request.url);
      const started = Date.now();
      const line = (status: string, ids: string) =>
        trace(msg('HttpTrace', request.method, url.host, url.pathname, status, Date.now() - started, ids));
      try {
        const res = await next(request);
        const ids = ['x-ms-correlation-request-id', 'x-ms-request-id']
          .map((h) => [h, res.headers.get(h)] as const)
          .filter(([, v]) => v)
          .map(([h, v]) => ` ${h}: ${v}`)
          .join('');
        line(String(res.status), ids);
        return res;
      } catch (e) {
        line((e as { code?: string }).code ?? (e as Error).name ?? 'error', '');
        throw e;
      }
    },
  };
}

/** A request that gets no answer within this long is abandoned and retried. */
export const REQUEST_TIMEOUT_MS = 30_000;

/**
 * Sets a per-try timeout and turns its abort into a retryable ETIMEDOUT (the pipeline's own
 * retry strategy does not retry aborts): a stalled connection costs one timeout, not the run.
 * A cancellation from the caller's abort signal is passed through unchanged.
 */
export function timeoutPolicy(ms = REQUEST_TIMEOUT_MS): PipelinePolicy {
  return {
    name: 'amlRequestTimeout',
    async sendRequest(request, next) {
      if (!request.timeout) request.timeout = ms;
      try {
        return await next(request);
      } catch (e) {
        const callerAborted = request.abortSignal?.aborted ?? false;
        if (!callerAborted && (e as { name?: string }).name === 'AbortError') {
          throw new RestError(msg('HttpNoAnswerWithin', new URL(request.url).host, ms / 1000), { code: 'ETIMEDOUT', request });
        }
        throw e;
      }
    },
  };
}

/** Retry budget shared by every client: bounded, and honours Retry-After. */
export const RETRY = { maxRetries: 5, retryDelayInMs: 800, maxRetryDelayInMs: 30_000 };

/** A response as it came, for callers that need the status and headers (LROs, scoring). */
export interface RawResponse {
  status: number;
  /** Lower-cased header names. */
  headers: Record<string, string>;
  text: string;
}

export interface SendOptions {
  /** An object is sent as JSON, a string as is. */
  body?: unknown;
  /** Extra headers, e.g. Authorization when the client has no credential. */
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

function rawOf(res: PipelineResponse): RawResponse {
  return { status: res.status, headers: res.headers.toJSON(), text: res.bodyAsText ?? '' };
}

/**
 * Without a credential no Authorization header is added and the caller sets its own (an online
 * endpoint's key, say). `retry` narrows the shared retry budget. `hosts` are the URLs the client
 * may call (default: `origin` only); anything else is refused before it is sent.
 * `followRedirects: false` hands every redirect back to the caller.
 */
export interface StackOptions {
  retry?: Partial<typeof RETRY>;
  timeoutMs?: number;
  hosts?: HostRule;
  followRedirects?: boolean;
  trace?: Trace;
}

/**
 * The pipeline every Azure request goes through, whichever client makes it: the same retry,
 * timeout, proxy, allowed-host rule and trace for JsonClient and the Azure ML SDK (arm.ts).
 */
export function agentPipeline(
  origin: string,
  credential: TokenCredential | undefined,
  scopes: string[],
  proxy: ProxyResolver,
  options: StackOptions = {},
): Pipeline {
  const proxyOptions = toProxySettings(proxy(origin));
  // followRedirects false: a 3xx comes back to the caller (the pipeline would follow a same-origin one without the caller's Authorization).
  const redirectOptions = options.followRedirects === false ? { redirectOptions: { maxRetries: 0 } } : {};
  const pipeline = createPipelineFromOptions({
    retryOptions: { ...RETRY, ...options.retry },
    userAgentOptions: { userAgentPrefix: USER_AGENT },
    ...redirectOptions,
    ...(proxyOptions ? { proxyOptions } : {}),
  });
  pipeline.addPolicy(hostPolicy(options.hosts ?? originRule(origin)), { phase: 'Serialize' });
  if (credential) pipeline.addPolicy(bearerAuthPolicy(credential, scopes));
  pipeline.addPolicy(timeoutPolicy(options.timeoutMs), { afterPhase: 'Retry' });
  if (options.trace) pipeline.addPolicy(tracePolicy(options.trace), { afterPhase: 'Retry' });
  return pipeline;
}

/** The HTTP client agentPipeline's requests are sent with (keep-alive per client). */
export function agentHttpClient(): HttpClient {
  return createDefaultHttpClient();
}

export class JsonClient {
  private readonly pipeline: Pipeline;
  private readonly http = agentHttpClient();

  /** See StackOptions for the options. */
  constructor(origin: string, credential: TokenCredential | undefined, scopes: string[], proxy: ProxyResolver, options: StackOptions = {}) {
    this.pipeline = agentPipeline(origin, credential, scopes, proxy, options);
  }

  private async sendRequest(method: HttpMethods, url: string, o: SendOptions) {
    const { body, signal } = o;
    const req = createPipelineRequest({
      url,
      method,
      headers: createHttpHeaders({
        accept: 'application/json',
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...o.headers,
      }),
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
      ...(signal ? { abortSignal: signal } : {}),
    });
    return { req, res: await this.pipeline.sendRequest(this.http, req) };
  }

  /** Send a request and return the response whatever its status (after the retries). */
  async send(method: HttpMethods, url: string, o: SendOptions = {}): Promise<RawResponse> {
    const { res } = await this.sendRequest(method, url, o);
    return rawOf(res);
  }

  /** Send JSON, parse JSON. Errors become RestError with the service's error code when it sent one. */
  async request<T>(method: HttpMethods, url: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    const { req, res } = await this.sendRequest(method, url, { body, ...(signal ? { signal } : {}) });
    const text = res.bodyAsText ?? '';
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      throw new RestError(msg('HttpResponseNotJson', `${method} ${pathOf(url)}`, res.status), {
        statusCode: res.status,
        request: req,
        response: res,
      });
    }
    if (res.status >= 400) throw restErrorOf(method, url, rawOf(res), res);
    return parsed as T;
  }
}

/**
 * The RestError for an answer with status >= 400, thrown by JsonClient.request and for raw
 * responses (LROs): the service's error code and message when its body has them, and the response
 * with its body, which translateAzureError inspects. `sent` is the pipeline's own response when
 * there is one; otherwise one is made from `res`.
 */
/** The path of a full URL or of an ARM path (lro.ts passes paths), for messages. */
const pathOf = (url: string): string => new URL(url, 'https://arm.invalid').pathname;

export function restErrorOf(method: HttpMethods, url: string, res: RawResponse, sent?: PipelineResponse): RestError {
  let err: { code?: string; message?: string } | undefined;
  try {
    err = (JSON.parse(res.text) as { error?: { code?: string; message?: string } }).error;
  } catch {
    err = undefined;
  }
  const response: PipelineResponse = sent ?? {
    request: createPipelineRequest({ url, method }),
    status: res.status,
    headers: createHttpHeaders(res.headers),
    bodyAsText: res.text,
  };
  return new RestError(err?.message ?? msg('HttpRequestReturned', `${method} ${pathOf(url)}`, res.status), {
    statusCode: res.status,
    ...(err?.code ? { code: err.code } : {}),
    ...(sent ? { request: sent.request } : {}),
    response,
  });
}
