/**
 * User-facing errors and the translation of Azure, Entra and network failures
 * into one actionable sentence: what failed, the likely cause, the fix.
 */
import { msg } from './messages';

const USER_ERROR = Symbol.for('aml-secure-mlops.UserError');

/**
 * A failure the user can fix. The task prints its message only, never a stack.
 * `instanceof` checks a brand, not the class, because index.js and azure.js each bundle a copy.
 */
export class UserError extends Error {
  readonly [USER_ERROR] = true;
  constructor(
    message: string,
    readonly input?: string,
  ) {
    super(message);
    this.name = 'UserError';
  }
  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as { [USER_ERROR]?: boolean })[USER_ERROR] === true;
  }
}

/** Thrown when a required or malformed input is found. Names the input. */
export function inputError(input: string, problem: string, fix: string): UserError {
  return new UserError(msg('InputProblem', input, problem, fix), input);
}

/** What we were doing when Azure failed, so the message can say it. */
export interface ErrorContext {
  /** e.g. "read workspace 'mlw-prod'" */
  action: string;
  /** The ARM scope, when known, to name in role advice. */
  scope?: string;
  /** The service connection name or id, to name in auth advice. */
  connection?: string;
}

interface ErrorShape {
  statusCode?: number;
  code?: string;
  message?: string;
  errorResponse?: { errorCode?: string | number; errorMessage?: string; errorDescription?: string };
  response?: { bodyAsText?: string | null; headers?: { get(name: string): string | undefined } };
}

const ROLE_HINT: Array<[RegExp, () => string]> = [
  [/\/registries\/assets\/(write|delete)$/i, () => msg('RoleRegistryUser')],
  [/\/(read|listKeys\/action|getToken\/action)$/i, () => msg('RoleReader')],
  [/\/jobs\/(write|cancel\/action)$/i, () => msg('RoleDataScientist')],
  [/\/(write|delete|action)$/i, () => msg('RoleContributor')],
];

function roleFor(action: string): string {
  for (const [re, role] of ROLE_HINT) if (re.test(action)) return role();
  return msg('RoleAny');
}

/** Entra AADSTS codes we see in pipelines, with the fix in words. */
const AADSTS: Record<string, () => string> = {
  '7000215': () => msg('AadstsWrongSecret'),
  '7000222': () => msg('AadstsSecretExpired'),
  '700016': () => msg('AadstsUnknownClient'),
  '90002': () => msg('AadstsUnknownTenant'),
  '700027': () => msg('AadstsCertificateNotRegistered'),
  '700024': () => msg('AadstsFederatedTokenExpired'),
  '70021': () => msg('AadstsNoFederatedCredential'),
  '700213': () => msg('AadstsNoFederatedCredential'),
  '50126': () => msg('AadstsInvalidCredentials'),
  '7000112': () => msg('AadstsApplicationDisabled'),
};

function aadsts(text: string): { code: string; advice: string } | undefined {
  const m = /AADSTS(\d+)/.exec(text);
  if (!m) return undefined;
  const code = m[1]!;
  return { code, advice: AADSTS[code]?.() ?? msg('AadstsRefused') };
}

export function firstLine(text: string): string {
  return text.split(/\r?\n/)[0]!.trim();
}

/** The first line of whatever was thrown (an Error's message, or the value itself), for one-line messages. */
export function errorLine(e: unknown): string {
  return firstLine(e instanceof Error ? e.message : String(e));
}

/**
 * Turn an error from @azure/identity, the ARM SDK, core-rest-pipeline or azure-devops-node-api
 * into a UserError with an actionable message. Unknown errors are returned unchanged.
 */
export function translateAzureError(err: unknown, ctx: ErrorContext): Error {
  if (err instanceof UserError) return err;
  if (!(err instanceof Error)) return new Error(String(err));
  const e = err as Error & ErrorShape;
  const text = `${e.message ?? ''} ${e.response?.bodyAsText ?? ''}`;
  const conn = ctx.connection ? msg('ServiceConnectionNamed', ctx.connection) : msg('ServiceConnectionUnnamed');

  // Entra sign-in failures.
  const sts = aadsts(text);
  if (sts || e.name === 'AuthenticationError' || e.name === 'CredentialUnavailableError') {
    if (sts) {
      return new UserError(msg('EntraSignInRefused', ctx.action, conn, sts.code, sts.advice));
    }
    if (
      /endpoints_resolution_error|network_error|ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EHOSTUNREACH|ECONNRESET|socket hang up/i.test(
        text,
      )
    ) {
      return new UserError(msg('EntraAuthorityUnreachable', ctx.action, conn, firstLine(e.message)));
    }
    return new UserError(msg('EntraSignInFailed', ctx.action, conn, firstLine(e.message)));
  }

  const code = e.code ?? '';
  const status = e.statusCode;
  const detail = firstLine(e.message ?? '');

  if (code === 'AuthorizationFailed' || (status === 403 && /does not have authorization to perform action/i.test(detail))) {
    const action = /perform action '([^']+)'/.exec(detail)?.[1] ?? msg('PermissionActionFallback');
    const scope = /over scope '([^']+)'/.exec(detail)?.[1] ?? ctx.scope ?? msg('PermissionScopeFallback');
    return new UserError(msg('PermissionMissing', ctx.action, conn, action, scope, roleFor(action), scope));
  }
  if (status === 403 && /private link|privatelink|public network access|not accessible from outside/i.test(text)) {
    return new UserError(msg('NotThroughPrivateEndpoint', ctx.action));
  }
  if (code === 'InvalidAuthenticationToken' || code === 'ExpiredAuthenticationToken' || code === 'InvalidAuthenticationTokenTenant') {
    return new UserError(msg('ArmTokenRejected', ctx.action, code, detail, conn));
  }
  if (code === 'SubscriptionNotFound') {
    return new UserError(msg('AzureSubscriptionNotFound', ctx.action, detail, conn));
  }
  if (code === 'ResourceGroupNotFound') {
    return new UserError(msg('AzureResourceGroupNotFound', ctx.action, detail));
  }
  if (code === 'ResourceNotFound' || code === 'WorkspaceNotFound' || (status === 404 && /workspaces\//i.test(detail))) {
    return new UserError(msg('AzureResourceNotFound', ctx.action, detail));
  }
  if (code === 'TooManyRequests' || status === 429) {
    return new UserError(msg('AzureThrottled', ctx.action));
  }
  if (status !== undefined && status >= 500) {
    // The id Azure support asks for: ARM's correlation id, else the service's request id.
    const id = e.response?.headers?.get('x-ms-correlation-request-id') ?? e.response?.headers?.get('x-ms-request-id');
    const returned = code ? `${status} ${code}` : status;
    return new UserError(
      id ? msg('AzureServerErrorCorrelated', ctx.action, returned, detail, id) : msg('AzureServerError', ctx.action, returned, detail),
    );
  }

  // Network-level failures: the usual suspects on a locked-down agent.
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || /getaddrinfo (ENOTFOUND|EAI_AGAIN)/.test(text)) {
    return new UserError(msg('HostNameNotResolved', ctx.action, detail));
  }
  if (
    code === 'ECONNREFUSED' ||
    code === 'ETIMEDOUT' ||
    code === 'ECONNRESET' ||
    code === 'EHOSTUNREACH' ||
    /ECONNREFUSED|ETIMEDOUT|EHOSTUNREACH/.test(text)
  ) {
    return new UserError(msg('NetworkConnectionFailed', ctx.action, detail));
  }
  if (/self[- ]signed certificate|unable to verify the first certificate|UNABLE_TO_GET_ISSUER_CERT|CERT_/i.test(text)) {
    return new UserError(msg('UntrustedTlsCertificate', ctx.action, detail));
  }
  if (code) return new UserError(msg('AzureErrorCode', ctx.action, code, detail));
  return err;
}
