/**
 * An AzureRM service connection as the agent hands it to a task (ENDPOINT_URL_/AUTH_/DATA_<id>),
 * read through an injected reader so this module stays free of task-lib.
 */
import { UserError } from './errors';
import { msg } from './messages';

export interface EndpointReader {
  url(id: string): string | undefined;
  scheme(id: string): string | undefined;
  auth(id: string, key: string): string | undefined;
  data(id: string, key: string): string | undefined;
}

export type AzureRmAuth =
  | { kind: 'secret'; clientId: string; secret: string }
  | { kind: 'certificate'; clientId: string; certificatePem: string }
  | { kind: 'workloadIdentity'; clientId: string }
  | { kind: 'managedIdentity'; clientId?: string };

export interface AzureRmEndpoint {
  id: string;
  /** The display name when known, for messages. */
  name: string;
  tenantId: string;
  subscriptionId: string;
  /** ARM base URL without trailing slash, e.g. https://management.azure.com */
  armUrl: string;
  /** Entra authority host without trailing slash, e.g. https://login.microsoftonline.com */
  authorityHost: string;
  /** Token scope for ARM, e.g. https://management.azure.com/.default */
  armScope: string;
  environment: string;
  auth: AzureRmAuth;
}

/**
 * The public clouds by their `az cloud` names (lower-cased keys): Resource Manager URL, Entra
 * authority and the ARM token scope (the cloud's active directory resource, which stays the same
 * when ARM is reached under another URL).
 */
export const PUBLIC_CLOUDS: Record<string, { environment: string; armUrl: string; authorityHost: string; armScope: string }> = {
  azurecloud: {
    environment: 'AzureCloud',
    armUrl: 'https://management.azure.com',
    authorityHost: 'https://login.microsoftonline.com',
    armScope: 'https://management.core.windows.net//.default',
  },
  azureusgovernment: {
    environment: 'AzureUSGovernment',
    armUrl: 'https://management.usgovcloudapi.net',
    authorityHost: 'https://login.microsoftonline.us',
    armScope: 'https://management.core.usgovcloudapi.net//.default',
  },
  azurechinacloud: {
    environment: 'AzureChinaCloud',
    armUrl: 'https://management.chinacloudapi.cn',
    authorityHost: 'https://login.chinacloudapi.cn',
    armScope: 'https://management.core.chinacloudapi.cn//.default',
  },
};

/** Authority hosts of the public sovereign clouds, used when the connection carries none. */
const AUTHORITY_BY_ENVIRONMENT: Record<string, string> = {
  ...Object.fromEntries(Object.entries(PUBLIC_CLOUDS).map(([k, c]) => [k, c.authorityHost])),
  azuregermancloud: 'https://login.microsoftonline.de',
};

const trimSlash = (u: string): string => u.replace(/\/+$/, '');

function httpsUrl(value: string, what: string, connection: string): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new UserError(msg('InvalidEndpointUrl', connection, what, value));
  }
  if (u.protocol !== 'https:') {
    throw new UserError(msg('NonHttpsEndpointUrl', connection, what, value));
  }
  return trimSlash(u.toString());
}

/** Read and validate an AzureRM connection. Throws UserError naming the input on any gap. */
export function readAzureRmEndpoint(input: string, id: string, r: EndpointReader): AzureRmEndpoint {
  const url = r.url(id);
  const schemeRaw = r.scheme(id);
  if (!url && !schemeRaw) {
    throw new UserError(msg('ConnectionNotFound', input, id), input);
  }
  const name = r.data(id, 'subscriptionName') ?? id;
  const need = (value: string | undefined, what: string): string => {
    if (!value) throw new UserError(msg('ConnectionFieldMissing', input, name, what), input);
    return value;
  };

  const environment = r.data(id, 'environment') ?? 'AzureCloud';
  if (environment.toLowerCase() === 'azurestack' && !r.data(id, 'activeDirectoryServiceEndpointResourceId')) {
    throw new UserError(msg('AzureStackNeedsAuthority', input), input);
  }
  const armUrl = httpsUrl(need(url, msg('EndpointFieldArmUrl')), msg('EndpointFieldArmUrl'), name);
  const authorityRaw =
    r.data(id, 'environmentAuthorityUrl') ?? r.data(id, 'activeDirectoryAuthority') ?? AUTHORITY_BY_ENVIRONMENT[environment.toLowerCase()];
  const authorityHost = httpsUrl(need(authorityRaw, msg('EndpointFieldAuthorityUrlInput')), msg('EndpointFieldAuthorityUrl'), name);
  // Like the platform's own tasks: the ARM URL is the token audience unless the connection names one.
  const resource = trimSlash(r.data(id, 'activeDirectoryServiceEndpointResourceId') ?? armUrl);
  const subscriptionId = need(r.data(id, 'subscriptionId'), msg('EndpointFieldSubscriptionId'));

  const scheme = (schemeRaw ?? 'ServicePrincipal').toLowerCase();
  let auth: AzureRmAuth;
  let tenantId = r.auth(id, 'tenantid') ?? '';
  if (scheme === 'serviceprincipal') {
    const clientId = need(r.auth(id, 'serviceprincipalid'), msg('EndpointFieldServicePrincipalId'));
    const type = (r.auth(id, 'authenticationType') ?? 'spnKey').toLowerCase();
    if (type === 'spncertificate') {
      auth = {
        kind: 'certificate',
        clientId,
        certificatePem: need(r.auth(id, 'servicePrincipalCertificate'), msg('EndpointFieldCertificate')),
      };
    } else if (type === 'spnkey') {
      auth = { kind: 'secret', clientId, secret: need(r.auth(id, 'serviceprincipalkey'), msg('EndpointFieldServicePrincipalKey')) };
    } else {
      throw new UserError(msg('ConnectionUnsupportedAuthenticationType', input, name, type), input);
    }
  } else if (scheme === 'workloadidentityfederation') {
    auth = { kind: 'workloadIdentity', clientId: need(r.auth(id, 'serviceprincipalid'), msg('EndpointFieldServicePrincipalId')) };
  } else if (scheme === 'managedserviceidentity') {
    const clientId = r.data(id, 'msiclientId') || undefined;
    auth = clientId ? { kind: 'managedIdentity', clientId } : { kind: 'managedIdentity' };
  } else {
    throw new UserError(msg('ConnectionUnsupportedScheme', input, name, schemeRaw), input);
  }
  if (auth.kind !== 'managedIdentity') tenantId = need(tenantId, msg('EndpointFieldTenantId'));
  if (tenantId && !/^[0-9a-zA-Z.-]+$/.test(tenantId)) {
    throw new UserError(msg('ConnectionInvalidTenantId', input, name, tenantId), input);
  }
  return { id, name, tenantId, subscriptionId, armUrl, authorityHost, armScope: `${resource}/.default`, environment, auth };
}
