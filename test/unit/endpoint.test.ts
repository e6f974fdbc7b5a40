import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readAzureRmEndpoint, type EndpointReader } from '../../tasks/common/endpoint';
import { UserError } from '../../tasks/common/errors';

function reader(
  url: string | undefined,
  scheme: string | undefined,
  auth: Record<string, string>,
  data: Record<string, string>,
): EndpointReader {
  return { url: () => url, scheme: () => scheme, auth: (_, k) => auth[k], data: (_, k) => data[k] };
}

test('service principal with secret uses the connection authority, ARM URL and scope', () => {
  const ep = readAzureRmEndpoint(
    'azureSubscription',
    'id1',
    reader(
      'https://management.usgovcloudapi.net/',
      'ServicePrincipal',
      { serviceprincipalid: 'c', serviceprincipalkey: 's', tenantid: 't' },
      { subscriptionId: 'sub', environment: 'AzureUSGovernment', environmentAuthorityUrl: 'https://login.microsoftonline.us/' },
    ),
  );
  assert.equal(ep.armUrl, 'https://management.usgovcloudapi.net');
  assert.equal(ep.authorityHost, 'https://login.microsoftonline.us');
  assert.equal(ep.armScope, 'https://management.usgovcloudapi.net/.default');
  assert.deepEqual(ep.auth, { kind: 'secret', clientId: 'c', secret: 's' });
});

test('falls back to the cloud authority when the connection carries none', () => {
  const ep = readAzureRmEndpoint(
    'azureSubscription',
    'id1',
    reader(
      'https://management.chinacloudapi.cn',
      'WorkloadIdentityFederation',
      { serviceprincipalid: 'c', tenantid: 't' },
      { subscriptionId: 'sub', environment: 'AzureChinaCloud' },
    ),
  );
  assert.equal(ep.authorityHost, 'https://login.chinacloudapi.cn');
  assert.equal(ep.auth.kind, 'workloadIdentity');
});

test('an explicit resource id is the token audience', () => {
  const ep = readAzureRmEndpoint(
    'azureSubscription',
    'id1',
    reader(
      'https://management.azure.com/',
      'ManagedServiceIdentity',
      { tenantid: 't' },
      { subscriptionId: 'sub', activeDirectoryServiceEndpointResourceId: 'https://management.core.windows.net/', msiclientId: 'mi' },
    ),
  );
  assert.equal(ep.armScope, 'https://management.core.windows.net/.default');
  assert.deepEqual(ep.auth, { kind: 'managedIdentity', clientId: 'mi' });
});

test('an unknown connection id names the input', () => {
  assert.throws(
    () => readAzureRmEndpoint('azureSubscription', 'nope', reader(undefined, undefined, {}, {})),
    (e: unknown) => e instanceof UserError && e.input === 'azureSubscription' && /was not found/.test(e.message),
  );
});

test('an unsupported scheme says which ones work', () => {
  assert.throws(
    () =>
      readAzureRmEndpoint('azureSubscription', 'x', reader('https://management.azure.com', 'PublishProfile', {}, { subscriptionId: 's' })),
    /PublishProfile.*does not support.*workload identity federation/s,
  );
});

test('a non-HTTPS ARM URL is refused', () => {
  assert.throws(
    () =>
      readAzureRmEndpoint(
        'azureSubscription',
        'x',
        reader(
          'http://management.azure.com',
          'ServicePrincipal',
          { serviceprincipalid: 'c', serviceprincipalkey: 's', tenantid: 't' },
          { subscriptionId: 's' },
        ),
      ),
    /non-HTTPS/,
  );
});

test('a missing secret names what to fill in', () => {
  assert.throws(
    () =>
      readAzureRmEndpoint(
        'azureSubscription',
        'x',
        reader('https://management.azure.com', 'ServicePrincipal', { serviceprincipalid: 'c', tenantid: 't' }, { subscriptionId: 's' }),
      ),
    /has no service principal key/,
  );
});
