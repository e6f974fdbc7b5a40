// Microsoft Entra ID: OpenID metadata, signing keys and the v2.0 token endpoint for the
// client credentials grant (secret, certificate assertion, federated assertion).
// Error bodies follow what login.microsoftonline.com sends (AADSTS codes, trace lines).
import { KeyObject, X509Certificate, createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import {
  type DecodedJwt,
  type JsonObject,
  type SigningKey,
  decodeJwt,
  newSigningKey,
  numClaim,
  publicJwk,
  signJwt,
  strClaim,
  verifyJwtSignature,
} from './jwt';
import { type EmuRequest, type EmuResponse, type EmulatorContext, formBody, header } from './types';

export const TOKEN_EXCHANGE_AUDIENCE = 'api://AzureADTokenExchange';
const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const WIF_DOC = 'https://learn.microsoft.com/entra/workload-id/workload-identity-federation';

export interface Tenant {
  tenantId: string;
  displayName: string;
  domains: string[];
}

export interface RegisteredCertificate {
  certPem: string;
  thumbprintSha1: Buffer;
  thumbprintSha256: Buffer;
  publicKey: KeyObject;
}

export interface FederatedCredential {
  name: string;
  issuer: string;
  subject: string;
  audiences: string[];
}

export interface ServicePrincipal {
  kind: 'servicePrincipal';
  tenantId: string;
  clientId: string;
  objectId: string;
  displayName: string;
  secrets: string[];
  certificates: RegisteredCertificate[];
  federatedCredentials: FederatedCredential[];
}

export interface ManagedIdentity {
  kind: 'managedIdentity';
  identityType: 'SystemAssigned' | 'UserAssigned';
  tenantId: string;
  clientId: string;
  objectId: string;
  displayName: string;
  /** ARM id: the VM for system-assigned, the userAssignedIdentities resource otherwise. */
  resourceId: string;
  /** Attached to the emulated agent VM, i.e. reachable through IMDS. */
  attached: boolean;
}

export type Identity = ServicePrincipal | ManagedIdentity;

/** What a valid access token says about its caller. */
export interface AccessTokenInfo {
  aud: string;
  tid: string;
  oid: string;
  appid: string;
  iat: number;
  exp: number;
  claims: JsonObject;
}

export type AccessTokenCheck =
  { ok: true; info: AccessTokenInfo } | { ok: false; reason: 'malformed' | 'signature' | 'expired' | 'notYetValid'; exp?: number };

export interface IssuedToken {
  accessToken: string;
  expiresIn: number;
  expiresOn: number;
  notBefore: number;
  resource: string;
}

interface InjectedFailure {
  code: number;
  status: number;
  error: string;
  description: string;
  clientId?: string;
  remaining: number;
}

/** Looks up the verification key of a trusted external issuer (the Azure DevOps OIDC issuer). */
export type IssuerKeyLookup = (kid: string | undefined) => KeyObject | undefined;

function aadTimestamp(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d{3}Z$/, 'Z');
}

function iso7(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, '.0000000Z');
}

export class EntraService {
  /** Lifetime of issued access tokens. Tests set a few seconds to force refreshes. */
  tokenLifetimeSeconds = 3600;
  readonly signingKey: SigningKey = newSigningKey();
  private readonly tenants = new Map<string, Tenant>();
  private readonly identities = new Map<string, Identity>(); // key: tenant|clientId (lower)
  private readonly issuers = new Map<string, IssuerKeyLookup>();
  private failures: InjectedFailure[] = [];

  constructor(private readonly ctx: EmulatorContext) {}

  // ---- state API -------------------------------------------------------------------

  addTenant(opts: { tenantId?: string; displayName?: string; domains?: string[] } = {}): Tenant {
    const tenant: Tenant = {
      tenantId: (opts.tenantId ?? randomUUID()).toLowerCase(),
      displayName: opts.displayName ?? 'Contoso',
      domains: (opts.domains ?? []).map((d) => d.toLowerCase()),
    };
    this.tenants.set(tenant.tenantId, tenant);
    return tenant;
  }

  findTenant(idOrDomain: string): Tenant | undefined {
    const key = idOrDomain.toLowerCase();
    const direct = this.tenants.get(key);
    if (direct) return direct;
    for (const t of this.tenants.values()) if (t.domains.includes(key)) return t;
    return undefined;
  }

  /** Registers an app + service principal. `secret: true` generates one. */
  addServicePrincipal(opts: {
    tenantId: string;
    displayName?: string;
    clientId?: string;
    objectId?: string;
    secret?: string | true;
    certificatePem?: string;
  }): ServicePrincipal {
    const tenant = this.requireTenant(opts.tenantId);
    const sp: ServicePrincipal = {
      kind: 'servicePrincipal',
      tenantId: tenant.tenantId,
      clientId: (opts.clientId ?? randomUUID()).toLowerCase(),
      objectId: (opts.objectId ?? randomUUID()).toLowerCase(),
      displayName: opts.displayName ?? 'app',
      secrets: [],
      certificates: [],
      federatedCredentials: [],
    };
    this.identities.set(`${tenant.tenantId}|${sp.clientId}`, sp);
    if (opts.secret !== undefined) this.addClientSecret(sp, opts.secret === true ? undefined : opts.secret);
    if (opts.certificatePem) this.addCertificate(sp, opts.certificatePem);
    return sp;
  }

  /** Adds a client secret shaped like Entra's (40 chars, 3-char prefix + '8Q~'). */
  addClientSecret(sp: ServicePrincipal, value?: string): string {
    const secret = value ?? `${randomBytes(2).toString('hex').slice(0, 3)}8Q~${randomBytes(30).toString('base64url').slice(0, 34)}`;
    sp.secrets.push(secret);
    this.ctx.addSecret(secret);
    return secret;
  }

  /** Registers the public certificate (any PEM holding a CERTIFICATE block). */
  addCertificate(sp: ServicePrincipal, pem: string): RegisteredCertificate {
    const m = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(pem);
    if (!m) throw new Error('addCertificate: no CERTIFICATE block in PEM');
    const x509 = new X509Certificate(m[0]);
    const cert: RegisteredCertificate = {
      certPem: m[0],
      thumbprintSha1: createHash('sha1').update(x509.raw).digest(),
      thumbprintSha256: createHash('sha256').update(x509.raw).digest(),
      publicKey: x509.publicKey,
    };
    sp.certificates.push(cert);
    return cert;
  }

  addFederatedCredential(
    sp: ServicePrincipal,
    fic: { name?: string; issuer: string; subject: string; audiences?: string[] },
  ): FederatedCredential {
    const cred: FederatedCredential = {
      name: fic.name ?? `fic-${sp.federatedCredentials.length + 1}`,
      issuer: fic.issuer,
      subject: fic.subject,
      audiences: fic.audiences ?? [TOKEN_EXCHANGE_AUDIENCE],
    };
    sp.federatedCredentials.push(cred);
    return cred;
  }

  addManagedIdentity(opts: {
    tenantId: string;
    identityType: 'SystemAssigned' | 'UserAssigned';
    resourceId: string;
    displayName?: string;
    clientId?: string;
    objectId?: string;
    attached?: boolean;
  }): ManagedIdentity {
    const tenant = this.requireTenant(opts.tenantId);
    const mi: ManagedIdentity = {
      kind: 'managedIdentity',
      identityType: opts.identityType,
      tenantId: tenant.tenantId,
      clientId: (opts.clientId ?? randomUUID()).toLowerCase(),
      objectId: (opts.objectId ?? randomUUID()).toLowerCase(),
      displayName: opts.displayName ?? opts.resourceId.split('/').pop() ?? 'identity',
      resourceId: opts.resourceId,
      attached: opts.attached ?? true,
    };
    this.identities.set(`${tenant.tenantId}|${mi.clientId}`, mi);
    return mi;
  }

  managedIdentities(): ManagedIdentity[] {
    return [...this.identities.values()].filter((i): i is ManagedIdentity => i.kind === 'managedIdentity');
  }

  findIdentity(tenantId: string, clientId: string): Identity | undefined {
    return this.identities.get(`${tenantId.toLowerCase()}|${clientId.toLowerCase()}`);
  }

  /** Trusts assertions from `issuer` for federated credentials, verified with keys from `lookup`. */
  registerIssuer(issuer: string, lookup: IssuerKeyLookup): void {
    this.issuers.set(issuer, lookup);
  }

  /** Makes the next token request(s) fail with this AADSTS error (optionally only for one client). */
  failNext(opts: { code: number; status?: number; error?: string; description?: string; clientId?: string; times?: number }): void {
    this.failures.push({
      code: opts.code,
      status: opts.status ?? 400,
      error: opts.error ?? 'invalid_request',
      description: opts.description ?? 'Injected failure.',
      clientId: opts.clientId?.toLowerCase(),
      remaining: opts.times ?? 1,
    });
  }

  jwks(): { keys: JsonObject[] } {
    return { keys: [publicJwk(this.signingKey)] };
  }

  // ---- tokens ------------------------------------------------------------------------

  /** Issues an access token for `resource` (an App ID URI without /.default). */
  issueAccessToken(identity: Identity, resource: string): IssuedToken {
    const now = this.ctx.clock.nowSeconds();
    const lifetime = this.tokenLifetimeSeconds;
    // v1-shaped claims: ARM and Azure DevOps accept v1 tokens (accessTokenAcceptedVersion null).
    const claims: JsonObject = {
      aud: resource,
      iss: `https://sts.windows.net/${identity.tenantId}/`,
      iat: now,
      nbf: now,
      exp: now + lifetime,
      aio: randomBytes(24).toString('base64url'),
      appid: identity.clientId,
      appidacr: identity.kind === 'managedIdentity' ? '2' : identity.certificates.length > 0 ? '2' : '1',
      idp: `https://sts.windows.net/${identity.tenantId}/`,
      idtyp: 'app',
      oid: identity.objectId,
      rh: `0.${randomBytes(16).toString('base64url')}.`,
      sub: identity.objectId,
      tid: identity.tenantId,
      uti: randomBytes(16).toString('base64url'),
      ver: '1.0',
    };
    if (identity.kind === 'managedIdentity') claims.xms_mirid = identity.resourceId;
    const token = signJwt(claims, this.signingKey, { x5t: this.signingKey.kid });
    this.ctx.addSecret(token);
    this.ctx.trackToken(token);
    return { accessToken: token, expiresIn: lifetime, expiresOn: now + lifetime, notBefore: now, resource };
  }

  /** Validates an access token issued by this emulator (signature, time, forced expiry). Audience is the caller's business. */
  verifyAccessToken(token: string): AccessTokenCheck {
    const jwt = decodeJwt(token);
    if (!jwt) return { ok: false, reason: 'malformed' };
    if (jwt.header.kid !== this.signingKey.kid || !verifyJwtSignature(jwt, this.signingKey.publicKey))
      return { ok: false, reason: 'signature' };
    const p = jwt.payload;
    const exp = numClaim(p, 'exp');
    const nbf = numClaim(p, 'nbf');
    const iat = numClaim(p, 'iat');
    const aud = strClaim(p, 'aud');
    const tid = strClaim(p, 'tid');
    const oid = strClaim(p, 'oid');
    const appid = strClaim(p, 'appid');
    if (exp === undefined || iat === undefined || !aud || !tid || !oid || !appid) return { ok: false, reason: 'malformed' };
    const now = this.ctx.clock.nowSeconds();
    if (now >= exp || this.ctx.isForceExpired(token)) return { ok: false, reason: 'expired', exp };
    if (nbf !== undefined && now + 300 < nbf) return { ok: false, reason: 'notYetValid', exp };
    return { ok: true, info: { aud, tid, oid, appid, iat, exp, claims: p } };
  }

  // ---- HTTP --------------------------------------------------------------------------

  async handle(req: EmuRequest): Promise<EmuResponse> {
    const [tenantSegment, ...rest] = req.segments;
    const tail = rest.join('/').toLowerCase();
    const correlationId = header(req, 'client-request-id') ?? randomUUID();
    const tenant = this.findTenant(tenantSegment);

    if (req.method === 'GET' && (tail === 'v2.0/.well-known/openid-configuration' || tail === '.well-known/openid-configuration')) {
      if (!tenant) return this.tenantNotFound(tenantSegment, correlationId);
      return { status: 200, body: this.openIdConfiguration(tenant), headers: { 'cache-control': 'max-age=86400, private' } };
    }
    if (req.method === 'GET' && (tail === 'discovery/v2.0/keys' || tail === 'discovery/keys')) {
      if (!tenant) return this.tenantNotFound(tenantSegment, correlationId);
      return { status: 200, body: this.jwks() };
    }
    if (tail === 'oauth2/v2.0/token') {
      if (req.method !== 'POST') {
        return this.aadError(
          405,
          'invalid_request',
          900561,
          'The endpoint only accepts POST requests. Received a GET request.',
          correlationId,
        );
      }
      if (!tenant) return this.tenantNotFound(tenantSegment, correlationId);
      return this.token(req, tenant, tenantSegment, correlationId);
    }
    return { status: 404, body: { error: 'not_found', error_description: `Emulated Entra has no endpoint ${req.url.pathname}` } };
  }

  openIdConfiguration(tenant: Tenant): JsonObject {
    const base = `${this.ctx.url}/${tenant.tenantId}`;
    return {
      token_endpoint: `${base}/oauth2/v2.0/token`,
      token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
      jwks_uri: `${base}/discovery/v2.0/keys`,
      response_modes_supported: ['query', 'fragment', 'form_post'],
      subject_types_supported: ['pairwise'],
      id_token_signing_alg_values_supported: ['RS256'],
      response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
      scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
      // MSAL requires the issuer to share the authority's origin.
      issuer: `${base}/v2.0`,
      request_uri_parameter_supported: false,
      userinfo_endpoint: 'https://graph.microsoft.com/oidc/userinfo',
      authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
      device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
      http_logout_supported: true,
      frontchannel_logout_supported: true,
      end_session_endpoint: `${base}/oauth2/v2.0/logout`,
      claims_supported: [
        'sub',
        'iss',
        'cloud_instance_name',
        'cloud_instance_host_name',
        'cloud_graph_host_name',
        'msgraph_host',
        'aud',
        'exp',
        'iat',
        'auth_time',
        'acr',
        'nonce',
        'preferred_username',
        'name',
        'tid',
        'ver',
        'at_hash',
        'c_hash',
        'email',
      ],
      kerberos_endpoint: `${base}/kerberos`,
      tenant_region_scope: 'WW',
      cloud_instance_name: 'microsoftonline.com',
      cloud_graph_host_name: 'graph.windows.net',
      msgraph_host: 'graph.microsoft.com',
      rbac_url: 'https://pas.windows.net',
    };
  }

  private requireTenant(id: string): Tenant {
    const t = this.findTenant(id);
    if (!t) throw new Error(`Unknown tenant ${id}; call entra.addTenant first`);
    return t;
  }

  private aadError(status: number, error: string, code: number, message: string, correlationId: string): EmuResponse {
    const traceId = randomUUID();
    const timestamp = aadTimestamp(this.ctx.clock.now());
    return {
      status,
      headers: { 'cache-control': 'no-store, no-cache', pragma: 'no-cache', 'x-ms-request-id': traceId },
      body: {
        error,
        error_description: `AADSTS${code}: ${message} Trace ID: ${traceId} Correlation ID: ${correlationId} Timestamp: ${timestamp}`,
        error_codes: [code],
        timestamp,
        trace_id: traceId,
        correlation_id: correlationId,
        error_uri: `${this.ctx.url}/error?code=${code}`,
      },
    };
  }

  private tenantNotFound(tenantSegment: string, correlationId: string): EmuResponse {
    return this.aadError(
      400,
      'invalid_tenant',
      90002,
      `Tenant '${tenantSegment}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.`,
      correlationId,
    );
  }

  private token(req: EmuRequest, tenant: Tenant, tenantSegment: string, correlationId: string): EmuResponse {
    const form = formBody(req);
    const grantType = form.get('grant_type');
    const clientId = (form.get('client_id') ?? '').toLowerCase();
    const scope = form.get('scope');

    const injected = this.failures.find((f) => f.remaining > 0 && (!f.clientId || f.clientId === clientId));
    if (injected) {
      injected.remaining -= 1;
      this.failures = this.failures.filter((f) => f.remaining > 0);
      return this.aadError(injected.status, injected.error, injected.code, injected.description, correlationId);
    }

    if (!grantType)
      return this.aadError(
        400,
        'invalid_request',
        900144,
        "The request body must contain the following parameter: 'grant_type'.",
        correlationId,
      );
    if (grantType !== 'client_credentials') {
      return this.aadError(
        400,
        'unsupported_grant_type',
        70003,
        `The app requested an unsupported grant type '${grantType}'.`,
        correlationId,
      );
    }
    if (!clientId)
      return this.aadError(
        400,
        'invalid_request',
        900144,
        "The request body must contain the following parameter: 'client_id'.",
        correlationId,
      );
    if (!scope)
      return this.aadError(
        400,
        'invalid_request',
        900144,
        "The request body must contain the following parameter: 'scope'.",
        correlationId,
      );
    const scopes = scope.split(' ').filter((s) => s.length > 0);
    const resourceScope = scopes.find((s) => !['openid', 'profile', 'offline_access'].includes(s));
    if (!resourceScope || !resourceScope.endsWith('/.default')) {
      return this.aadError(
        400,
        'invalid_scope',
        1002012,
        `The provided value for scope ${scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`,
        correlationId,
      );
    }
    const resource = resourceScope.slice(0, -'/.default'.length);

    const identity = this.findIdentity(tenant.tenantId, clientId);
    if (!identity || identity.kind !== 'servicePrincipal') {
      return this.aadError(
        400,
        'unauthorized_client',
        700016,
        `Application with identifier '${form.get('client_id')}' was not found in the directory '${tenant.displayName}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`,
        correlationId,
      );
    }

    const secret = form.get('client_secret');
    const assertion = form.get('client_assertion');
    if (secret !== null) {
      if (!identity.secrets.some((s) => safeEqual(s, secret))) {
        return this.aadError(
          401,
          'invalid_client',
          7000215,
          `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${identity.clientId}'.`,
          correlationId,
        );
      }
    } else if (assertion !== null) {
      if (form.get('client_assertion_type') !== JWT_BEARER) {
        return this.aadError(
          400,
          'invalid_request',
          700023,
          `Invalid client assertion type: '${form.get('client_assertion_type') ?? ''}'.`,
          correlationId,
        );
      }
      const jwt = decodeJwt(assertion);
      if (!jwt) return this.aadError(400, 'invalid_request', 50027, 'JWT token is invalid or malformed.', correlationId);
      const problem =
        strClaim(jwt.payload, 'iss')?.toLowerCase() === identity.clientId
          ? this.checkCertificateAssertion(jwt, identity, tenant, tenantSegment)
          : this.checkFederatedAssertion(jwt, assertion, identity);
      if (problem) return this.aadError(problem.status, problem.error, problem.code, problem.message, correlationId);
    } else {
      return this.aadError(
        401,
        'invalid_client',
        7000218,
        "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        correlationId,
      );
    }

    const issued = this.issueAccessToken(identity, resource);
    return {
      status: 200,
      headers: { 'cache-control': 'no-store, no-cache', pragma: 'no-cache' },
      body: { token_type: 'Bearer', expires_in: issued.expiresIn, ext_expires_in: issued.expiresIn, access_token: issued.accessToken },
      principal: { kind: 'servicePrincipal', id: identity.objectId, appId: identity.clientId, tenantId: identity.tenantId },
    };
  }

  private timeProblem(payload: JsonObject): AssertionProblem | undefined {
    const now = this.ctx.clock.nowSeconds();
    const exp = numClaim(payload, 'exp');
    const nbf = numClaim(payload, 'nbf') ?? numClaim(payload, 'iat') ?? 0;
    if (exp === undefined || now >= exp || now + 300 < nbf) {
      return {
        status: 400,
        error: 'invalid_client',
        code: 700024,
        message: `Client assertion is not within its valid time range. Current time: ${iso7(now)}, assertion valid from ${iso7(nbf)}, expiry time of assertion ${iso7(exp ?? 0)}. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .`,
      };
    }
    return undefined;
  }

  private checkCertificateAssertion(
    jwt: DecodedJwt,
    sp: ServicePrincipal,
    tenant: Tenant,
    tenantSegment: string,
  ): AssertionProblem | undefined {
    const x5t256 = typeof jwt.header['x5t#S256'] === 'string' ? Buffer.from(jwt.header['x5t#S256'], 'base64url') : undefined;
    const x5t = typeof jwt.header.x5t === 'string' ? Buffer.from(jwt.header.x5t, 'base64url') : undefined;
    const presented = (x5t256 ?? x5t ?? Buffer.alloc(0)).toString('hex').toUpperCase();
    const cert = sp.certificates.find((c) => (x5t256 && c.thumbprintSha256.equals(x5t256)) || (x5t && c.thumbprintSha1.equals(x5t)));
    const keyNotFound = (reason: string): AssertionProblem => ({
      status: 401,
      error: 'invalid_client',
      code: 700027,
      message: `Client assertion contains an invalid signature. [Reason - ${reason}, Thumbprint of key used by client: '${presented}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '${sp.clientId}'. Review the documentation at https://docs.microsoft.com/en-us/graph/deployments to determine the corresponding service endpoint and https://docs.microsoft.com/en-us/graph/api/application-get?view=graph-rest-1.0&tabs=http to build a query request URL, such as 'https://graph.microsoft.com/beta/applications/${sp.clientId}']`,
    });
    if (!cert) return keyNotFound('The key was not found.');
    if (!verifyJwtSignature(jwt, cert.publicKey)) return keyNotFound('Key was found, but use of the key to verify the signature failed.');
    if (strClaim(jwt.payload, 'sub')?.toLowerCase() !== sp.clientId) {
      return {
        status: 401,
        error: 'invalid_client',
        code: 700021,
        message:
          "Client assertion application identifier doesn't match 'client_id' parameter. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .",
      };
    }
    const aud = jwt.payload.aud;
    const accepted = new Set(
      [tenant.tenantId, tenantSegment]
        .flatMap((t) => [`${this.ctx.url}/${t}/oauth2/v2.0/token`, `${this.ctx.url}/${t}/oauth2/token`, `${this.ctx.url}/${t}/`])
        .map((s) => s.toLowerCase()),
    );
    const auds = (Array.isArray(aud) ? aud : [aud]).filter((a): a is string => typeof a === 'string');
    if (!auds.some((a) => accepted.has(a.toLowerCase()))) {
      return {
        status: 400,
        error: 'invalid_client',
        code: 700027,
        message: `Client assertion audience claim does not match Realm issuer. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .`,
      };
    }
    return this.timeProblem(jwt.payload);
  }

  private checkFederatedAssertion(jwt: DecodedJwt, raw: string, sp: ServicePrincipal): AssertionProblem | undefined {
    const iss = strClaim(jwt.payload, 'iss') ?? '';
    const sub = strClaim(jwt.payload, 'sub') ?? '';
    const auds = (Array.isArray(jwt.payload.aud) ? jwt.payload.aud : [jwt.payload.aud]).filter((a): a is string => typeof a === 'string');
    const byIssuer = sp.federatedCredentials.filter((f) => f.issuer === iss);
    const tail = `Please check your federated identity credential Subject, Audience and Issuer against the presented assertion. ${WIF_DOC}`;
    if (byIssuer.length === 0) {
      return {
        status: 401,
        error: 'invalid_client',
        code: 700211,
        message: `No matching federated identity record found for presented assertion issuer '${iss}'. ${tail}`,
      };
    }
    // Matching is case-sensitive (Entra change of 2025).
    const bySubject = byIssuer.filter((f) => f.subject === sub);
    if (bySubject.length === 0) {
      return {
        status: 401,
        error: 'invalid_client',
        code: 700213,
        message: `No matching federated identity record found for presented assertion subject '${sub}'. Check your federated identity credential Subject, Audience and Issuer against the presented assertion. ${WIF_DOC}`,
      };
    }
    if (!bySubject.some((f) => f.audiences.some((a) => auds.includes(a)))) {
      return {
        status: 401,
        error: 'invalid_client',
        code: 700212,
        message: `No matching federated identity record found for presented assertion audience '${auds.join(',')}'. ${tail}`,
      };
    }
    const lookup = this.issuers.get(iss);
    const key = lookup?.(typeof jwt.header.kid === 'string' ? jwt.header.kid : undefined);
    if (!key || !verifyJwtSignature(jwt, key)) {
      return {
        status: 401,
        error: 'invalid_client',
        code: 50013,
        message: 'Assertion failed signature validation. [Reason - The key was not found.]',
      };
    }
    if (this.ctx.isForceExpired(raw)) {
      const exp = numClaim(jwt.payload, 'exp') ?? 0;
      const now = this.ctx.clock.nowSeconds();
      return {
        status: 400,
        error: 'invalid_client',
        code: 700024,
        message: `Client assertion is not within its valid time range. Current time: ${iso7(now)}, assertion valid from ${iso7(numClaim(jwt.payload, 'nbf') ?? 0)}, expiry time of assertion ${iso7(Math.min(exp, now - 1))}. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .`,
      };
    }
    return this.timeProblem(jwt.payload);
  }
}

interface AssertionProblem {
  status: number;
  error: string;
  code: number;
  message: string;
}

function safeEqual(a: string, b: string): boolean {
  const ba = Buffer.from(a);
  const bb = Buffer.from(b);
  return ba.length === bb.length && timingSafeEqual(ba, bb);
}
