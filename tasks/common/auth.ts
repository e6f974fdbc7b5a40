/**
 * Service connection -> TokenCredential, for every AzureRM scheme. Sovereign clouds and
 * the test emulator both work through the connection's authority and ARM URLs.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import {
  ClientAssertionCredential,
  ClientCertificateCredential,
  ClientSecretCredential,
  ManagedIdentityCredential,
  type TokenCredential,
} from '@azure/identity';
import type { AzureRmEndpoint } from './endpoint';
import { UserError } from './errors';
import { msg } from './messages';
import { toProxySettings, type ProxyResolver } from './proxy';
import type { Secrets } from './secrets';

/** Fetches a fresh OIDC token for workload identity federation (see devops.ts). */
export type OidcTokenSource = () => Promise<string>;

export interface CredentialOptions {
  proxy: ProxyResolver;
  secrets: Secrets;
  /** Required for workload identity federation. */
  oidcToken?: OidcTokenSource;
}

/** Check the PEM holds a private key and a certificate, so a bad paste fails with one clear line. */
export function validateCertificatePem(pem: string, connection: string): void {
  const fix = msg('MalformedConnectionCertificate', connection);
  const keyPem = /-----BEGIN (?:RSA |EC )?PRIVATE KEY-----[\s\S]+?-----END (?:RSA |EC )?PRIVATE KEY-----/.exec(pem)?.[0];
  const certPem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(pem)?.[0];
  if (!keyPem || !certPem) throw new UserError(fix);
  try {
    createPrivateKey(keyPem);
    const cert = new X509Certificate(certPem);
    if (Date.parse(cert.validTo) < Date.now()) {
      throw new UserError(msg('ConnectionCertificateExpired', connection, cert.validTo));
    }
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(fix);
  }
}

interface AssertionFailure {
  error?: UserError;
}

/** The UserError a workload-identity credential's assertion callback last threw, by credential. */
const assertionFailures = new WeakMap<TokenCredential, AssertionFailure>();

export function createCredential(ep: AzureRmEndpoint, opts: CredentialOptions): TokenCredential {
  const proxyOptions = toProxySettings(opts.proxy(ep.authorityHost));
  const common = {
    authorityHost: ep.authorityHost,
    // Instance discovery calls the public cloud; sovereign and private authorities must skip it.
    disableInstanceDiscovery: true,
    ...(proxyOptions ? { proxyOptions } : {}),
  };
  const auth = ep.auth;
  switch (auth.kind) {
    case 'secret':
      opts.secrets.protect(auth.secret);
      return new ClientSecretCredential(ep.tenantId, auth.clientId, auth.secret, common);
    case 'certificate':
      opts.secrets.protect(auth.certificatePem);
      validateCertificatePem(auth.certificatePem, ep.name);
      return new ClientCertificateCredential(ep.tenantId, auth.clientId, { certificate: auth.certificatePem }, common);
    case 'workloadIdentity': {
      const source = opts.oidcToken;
      if (!source) throw new UserError(msg('WorkloadIdentityNoOidcSource', ep.name));
      // The callback runs whenever MSAL needs a new assertion, so each one is fresh:
      // OIDC tokens live ~10 minutes and long waits outlive them.
      const failure: AssertionFailure = {};
      const credential = new ClientAssertionCredential(
        ep.tenantId,
        auth.clientId,
        async () => {
          try {
            const token = opts.secrets.protect(await source());
            delete failure.error;
            return token;
          } catch (e) {
            // Our own OIDC failure (devops.ts): @azure/identity wraps it; renewableCredential throws it as it was.
            if (e instanceof UserError) failure.error = e;
            throw e;
          }
        },
        common,
      );
      assertionFailures.set(credential, failure);
      return credential;
    }
    case 'managedIdentity':
      // IMDS is link-local and never goes through the proxy.
      return auth.clientId ? new ManagedIdentityCredential({ clientId: auth.clientId }) : new ManagedIdentityCredential();
  }
}

/**
 * Passed as `claims` by the ARM auth policy when ARM rejects a token that has not expired by its
 * own clock (revoked, clock skew): it makes the token cycler drop its token, and makes the
 * renewable credential below start from a fresh credential (an empty MSAL cache). It never
 * reaches Entra.
 */
export const RENEW_CLAIMS = 'aml-secure-mlops:renew';

/**
 * A credential that masks every token it hands out before anything can log it, and that can be
 * renewed: `factory` builds the real credential again when ARM has rejected its token. When the
 * real credential fails because our OIDC token source failed, that UserError is thrown unwrapped.
 */
export function renewableCredential(factory: () => TokenCredential, secrets: Secrets): TokenCredential {
  let inner = factory();
  return {
    async getToken(scopes, options) {
      let opts = options;
      if (options?.claims === RENEW_CLAIMS) {
        inner = factory();
        const { claims: _renew, ...rest } = options;
        void _renew;
        opts = rest;
      }
      const current = inner;
      let t: Awaited<ReturnType<TokenCredential['getToken']>>;
      try {
        t = await current.getToken(scopes, opts);
      } catch (e) {
        // When the failure was our own OIDC error, throw it rather than @azure/identity's wrapping of it.
        const failure = assertionFailures.get(current);
        const own = failure?.error;
        if (own) {
          delete failure.error;
          throw own;
        }
        throw e;
      }
      if (t) secrets.protect(t.token);
      return t;
    },
  };
}

/**
 * The object id (`oid` claim) of the identity an Entra access token was issued to, or undefined
 * when the token is not a readable JWT. Read only to name the caller; the token is not verified.
 */
export function tokenObjectId(token: string): string | undefined {
  const payload = token.split('.')[1];
  if (!payload) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { oid?: unknown };
    return typeof claims.oid === 'string' && /^[0-9a-f-]{36}$/i.test(claims.oid) ? claims.oid.toLowerCase() : undefined;
  } catch {
    return undefined;
  }
}
