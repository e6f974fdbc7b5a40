/**
 * User-facing errors and the translation of Azure, Entra and network failures
 * into one actionable sentence: what failed, the likely cause, the fix.
 */

const USER_ERROR = Symbol.for('aml-secure-mlops.UserError');

/**
 * A failure the user can fix. The task prints its message only, never a stack.
 * `instanceof` checks a brand, not the class, because index.js and azure.js each bundle a copy.
 */
export class UserError extends Error {
  readonly [USER_ERROR] = true;
  constructor(message: string, readonly input?: string) {
    super(message);
    this.name = 'UserError';
  }
  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as { [USER_ERROR]?: boolean })[USER_ERROR] === true;
  }
}

/** Thrown when a required or malformed input is found. Names the input. */
export function inputError(input: string, problem: string, fix: string): UserError {
  return new UserError(`Input '${input}': ${problem}. ${fix}`, input);
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
  response?: { bodyAsText?: string | null };
}

const ROLE_HINT: Array<[RegExp, string]> = [
  [/\/(read|listKeys\/action|getToken\/action)$/i, 'Reader (or a role with that action)'],
  [/\/jobs\/(write|cancel\/action)$/i, 'AzureML Data Scientist or Contributor'],
  [/\/(write|delete|action)$/i, 'Contributor (or AzureML Data Scientist for jobs, models and deployments)'],
];

function roleFor(action: string): string {
  for (const [re, role] of ROLE_HINT) if (re.test(action)) return role;
  return 'a role that grants it';
}

/** Entra AADSTS codes we see in pipelines, with the fix in words. */
const AADSTS: Record<string, string> = {
  '7000215': 'the client secret is wrong or is the secret ID rather than its value. Update the service connection with the secret value',
  '7000222': 'the client secret has expired. Create a new secret for the app registration and update the service connection',
  '700016': 'no application with this client id exists in the tenant. Check the service principal id and tenant id of the service connection',
  '90002': 'the tenant does not exist in this cloud. Check the tenant id and the environment (Azure cloud) of the service connection',
  '700027': 'the certificate is not registered on the app registration. Upload the certificate\'s public part to the app registration',
  '700024': 'the federated (OIDC) token had expired when it was used. The task fetches a fresh one each time; if this persists, check the agent clock',
  '70021': 'no federated credential on the app registration matches this service connection (issuer and subject). Re-create the federated credential with the issuer and subject shown on the service connection',
  '700213': 'no federated credential on the app registration matches this service connection (issuer and subject). Re-create the federated credential with the issuer and subject shown on the service connection',
  '50126': 'invalid credentials',
  '7000112': 'the application is disabled in the tenant. Enable it or use another service connection',
};

function aadsts(text: string): { code: string; advice: string } | undefined {
  const m = /AADSTS(\d+)/.exec(text);
  if (!m) return undefined;
  const code = m[1]!;
  return { code, advice: AADSTS[code] ?? 'Entra ID refused the sign-in' };
}

function firstLine(text: string): string {
  return text.split(/\r?\n/)[0]!.trim();
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
  const conn = ctx.connection ? ` '${ctx.connection}'` : '';

  // Our own OIDC failure, wrapped by @azure/identity on its way out of the assertion callback.
  const oidc = /Could not get an OIDC token[^\n]*?Azure DevOps\./.exec(text) ?? /Azure DevOps returned no OIDC token[^\n]*?connection\./.exec(text);
  if (oidc) return new UserError(oidc[0]);

  // Entra sign-in failures.
  const sts = aadsts(text);
  if (sts || e.name === 'AuthenticationError' || e.name === 'CredentialUnavailableError') {
    if (sts) {
      return new UserError(`Could not ${ctx.action} with service connection${conn}: AADSTS${sts.code}: ${sts.advice}.`);
    }
    if (/endpoints_resolution_error|network_error|ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EHOSTUNREACH|ECONNRESET|socket hang up/i.test(text)) {
      return new UserError(
        `Could not ${ctx.action} with service connection${conn}: the Entra authority is unreachable from the agent (${firstLine(e.message)}). ` +
          "Check the connection's cloud (environment) and authority URL, and the agent's DNS, proxy (Agent.ProxyUrl) and firewall rules for the authority host.",
      );
    }
    return new UserError(`Could not ${ctx.action} with service connection${conn}: ${firstLine(e.message)}. Check the service connection's credentials and that the agent can reach the Entra authority.`);
  }

  const code = e.code ?? '';
  const status = e.statusCode;
  const msg = firstLine(e.message ?? '');

  if (code === 'AuthorizationFailed' || (status === 403 && /does not have authorization to perform action/i.test(msg))) {
    const action = /perform action '([^']+)'/.exec(msg)?.[1] ?? 'the requested action';
    const scope = /over scope '([^']+)'/.exec(msg)?.[1] ?? ctx.scope ?? 'the resource';
    return new UserError(
      `Could not ${ctx.action}: the service connection${conn} lacks permission for '${action}' on '${scope}'. ` +
        `Grant its service principal ${roleFor(action)} on that scope (az role assignment create --assignee <appId> --role <role> --scope ${scope}), then re-run.`,
    );
  }
  if (status === 403 && /private link|privatelink|public network access|not accessible from outside/i.test(text)) {
    return new UserError(
      `Could not ${ctx.action}: Azure refused the request because it did not arrive through the private endpoint. ` +
        `The agent resolved the workspace or storage name to a public IP. Run AmlPrivateLinkCheck@1 first; link the private DNS zones to the agent's VNet or add the conditional forwarder to 168.63.129.16.`,
    );
  }
  if (code === 'InvalidAuthenticationToken' || code === 'ExpiredAuthenticationToken' || code === 'InvalidAuthenticationTokenTenant') {
    return new UserError(`Could not ${ctx.action}: ARM rejected the access token (${code}): ${msg} Check the tenant and environment (cloud) of the service connection${conn}.`);
  }
  if (code === 'SubscriptionNotFound') {
    return new UserError(`Could not ${ctx.action}: ${msg} Check the subscription of the service connection${conn} and that its principal has access to it.`);
  }
  if (code === 'ResourceGroupNotFound') {
    return new UserError(`Could not ${ctx.action}: ${msg} Check the 'resourceGroupName' input.`);
  }
  if (code === 'ResourceNotFound' || code === 'WorkspaceNotFound' || (status === 404 && /workspaces\//i.test(msg))) {
    return new UserError(`Could not ${ctx.action}: ${msg} Check the resource group and name inputs.`);
  }
  if (code === 'TooManyRequests' || status === 429) {
    return new UserError(`Could not ${ctx.action}: Azure kept throttling the requests (429) after retries. Re-run later, or reduce concurrent pipelines using this principal.`);
  }
  if (status !== undefined && status >= 500) {
    return new UserError(`Could not ${ctx.action}: Azure returned ${status}${code ? ` ${code}` : ''} after retries: ${msg} This is on Azure's side; re-run the stage.`);
  }

  // Network-level failures: the usual suspects on a locked-down agent.
  const sys = (e as { code?: string }).code ?? '';
  if (sys === 'ENOTFOUND' || sys === 'EAI_AGAIN' || /getaddrinfo (ENOTFOUND|EAI_AGAIN)/.test(text)) {
    return new UserError(`Could not ${ctx.action}: a host name did not resolve from the agent (${msg}). Check the agent's DNS and, for private endpoints, the private DNS zone links.`);
  }
  if (sys === 'ECONNREFUSED' || sys === 'ETIMEDOUT' || sys === 'ECONNRESET' || sys === 'EHOSTUNREACH' || /ECONNREFUSED|ETIMEDOUT|EHOSTUNREACH/.test(text)) {
    return new UserError(`Could not ${ctx.action}: the connection failed (${msg}). Check the agent's network path and proxy settings (NSG, firewall, Agent.ProxyUrl).`);
  }
  if (/self[- ]signed certificate|unable to verify the first certificate|UNABLE_TO_GET_ISSUER_CERT|CERT_/i.test(text)) {
    return new UserError(`Could not ${ctx.action}: the TLS certificate presented to the agent is not trusted (${msg}). A TLS-inspecting proxy needs its root CA in NODE_EXTRA_CA_CERTS or the agent's certificate store.`);
  }
  if (code) return new UserError(`Could not ${ctx.action}: ${code}: ${msg}`);
  return err;
}
