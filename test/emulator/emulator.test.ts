// Proves the emulator behaves like Entra ID, IMDS, ARM and Azure DevOps for the real clients
// the tasks use (@azure/identity, @azure/arm-machinelearning, azure-devops-node-api).
//
// How TLS trust works here: tasks run as child processes with NODE_EXTRA_CA_CERTS=emu.caFile,
// but this test process has already started, so in-process clients get the CA explicitly:
// Azure SDK clients through `tlsOptions: { ca }` (their pipelines use their own agents),
// azure-devops-node-api through `cert: { caFile }`, raw calls through `https.request({ ca })`.
// One test spawns a plain node child with NODE_EXTRA_CA_CERTS to prove the task path itself.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, afterEach, before, describe, it } from 'node:test';
import { AzureMachineLearningWorkspaces } from '@azure/arm-machinelearning';
import {
  ClientAssertionCredential,
  ClientCertificateCredential,
  ClientSecretCredential,
  ManagedIdentityCredential,
  type TokenCredential,
} from '@azure/identity';
import { WebApi, getBearerHandler } from 'azure-devops-node-api';
import { type Emulator, type SeedResult, makeSelfSignedCertificate, startEmulator } from '../../testkit/emulator/index';
import { decodeJwt } from '../../testkit/emulator/jwt';
import { rawRequest, type RawResponse } from '../../testkit/emulator/raw';

let emu: Emulator;
let seed: SeedResult;

function raw(
  method: string,
  path: string,
  opts: { headers?: Record<string, string>; body?: string; timeoutMs?: number } = {},
): Promise<RawResponse> {
  return rawRequest(emu.url, emu.caCertPem, method, path, opts);
}

function tokenForm(params: Record<string, string>): { headers: Record<string, string>; body: string } {
  return { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(params).toString() };
}

const idOpts = (): { authorityHost: string; disableInstanceDiscovery: boolean; tlsOptions: { ca: string } } => ({
  authorityHost: emu.url,
  disableInstanceDiscovery: true,
  tlsOptions: { ca: emu.caCertPem },
});

function mlClient(credential: TokenCredential): AzureMachineLearningWorkspaces {
  return new AzureMachineLearningWorkspaces(credential, seed.subscriptionId, {
    endpoint: emu.url,
    credentialScopes: [`${emu.url}/.default`],
    tlsOptions: { ca: emu.caCertPem },
  });
}

function secretCredential(
  clientId = seed.servicePrincipals.secret.clientId,
  secret = seed.servicePrincipals.secret.secret,
): ClientSecretCredential {
  return new ClientSecretCredential(seed.tenantId, clientId, secret, idOpts());
}

async function armToken(clientId: string, secret: string, scope = `${emu.url}/.default`): Promise<string> {
  return (await secretCredential(clientId, secret).getToken(scope)).token;
}

function wsPath(name = seed.workspace.name, rg = seed.resourceGroup, sub = seed.subscriptionId): string {
  return `/subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.MachineLearningServices/workspaces/${name}`;
}

async function fetchOidc(jobToken: string, serviceConnectionId: string): Promise<RawResponse> {
  return raw('POST', `${emu.ado.oidcRequestUri(jobToken)}?api-version=7.1&serviceConnectionId=${serviceConnectionId}`, {
    headers: { authorization: `Bearer ${jobToken}`, 'content-type': 'application/json' },
    body: '{}',
  });
}

before(async () => {
  emu = await startEmulator();
  seed = emu.seedDefault();
});

after(async () => {
  await emu.close();
});

afterEach(() => {
  emu.faults.clear();
  emu.clock.reset();
});

describe('Entra token endpoint', () => {
  it('issues an ARM token to ClientSecretCredential whose claims name the service principal', async () => {
    const token = await armToken(seed.servicePrincipals.secret.clientId, seed.servicePrincipals.secret.secret);
    const check = emu.entra.verifyAccessToken(token);
    assert.ok(check.ok);
    assert.equal(check.info.aud, emu.url);
    assert.equal(check.info.oid, seed.servicePrincipals.secret.objectId);
    assert.equal(check.info.appid, seed.servicePrincipals.secret.clientId);
    assert.equal(check.info.tid, seed.tenantId);
    assert.ok(emu.secrets().includes(token), 'issued tokens are registered as secrets');
  });

  it('rejects a wrong client secret with AADSTS7000215 in Entra’s error shape', async () => {
    await assert.rejects(
      secretCredential(seed.servicePrincipals.secret.clientId, 'not-the-secret').getToken('https://management.azure.com/.default'),
      /AADSTS7000215/,
    );
    const form = tokenForm({
      grant_type: 'client_credentials',
      client_id: seed.servicePrincipals.secret.clientId,
      client_secret: 'nope',
      scope: 'https://management.azure.com/.default',
    });
    const res = await raw('POST', `/${seed.tenantId}/oauth2/v2.0/token`, {
      ...form,
      headers: { ...form.headers, 'client-request-id': 'corr-1' },
    });
    assert.equal(res.status, 401);
    const body = res.json();
    assert.equal(body.error, 'invalid_client');
    assert.match(
      String(body.error_description),
      /^AADSTS7000215: Invalid client secret provided\..* Trace ID: [0-9a-f-]{36} Correlation ID: corr-1 Timestamp: \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/,
    );
    assert.deepEqual(body.error_codes, [7000215]);
    for (const k of ['timestamp', 'trace_id', 'correlation_id', 'error_uri']) assert.ok(body[k], k);
  });

  it('answers an unknown tenant with AADSTS90002 and an unknown client with AADSTS700016', async () => {
    const meta = await raw('GET', '/00000000-1111-2222-3333-444444444444/v2.0/.well-known/openid-configuration');
    assert.equal(meta.status, 400);
    assert.deepEqual(meta.json().error_codes, [90002]);
    const res = await raw(
      'POST',
      `/${seed.tenantId}/oauth2/v2.0/token`,
      tokenForm({
        grant_type: 'client_credentials',
        client_id: '99999999-0000-4000-8000-000000000000',
        client_secret: 'x',
        scope: 'https://management.azure.com/.default',
      }),
    );
    assert.equal(res.status, 400);
    assert.equal(res.json().error, 'unauthorized_client');
    assert.match(String(res.json().error_description), /^AADSTS700016: Application with identifier '99999999-/);
  });

  it('accepts the registered certificate through ClientCertificateCredential and refuses an unregistered one (AADSTS700027)', async () => {
    const good = new ClientCertificateCredential(
      seed.tenantId,
      seed.servicePrincipals.certificate.clientId,
      { certificate: seed.servicePrincipals.certificate.pem },
      idOpts(),
    );
    const token = await good.getToken('https://management.azure.com/.default');
    const check = emu.entra.verifyAccessToken(token.token);
    assert.ok(check.ok && check.info.oid === seed.servicePrincipals.certificate.objectId);
    const stranger = makeSelfSignedCertificate('not-registered');
    const bad = new ClientCertificateCredential(
      seed.tenantId,
      seed.servicePrincipals.certificate.clientId,
      { certificate: stranger.combinedPem },
      idOpts(),
    );
    await assert.rejects(bad.getToken('https://management.azure.com/.default'), /AADSTS700027/);
  });

  it('exchanges a fresh Azure DevOps OIDC token per request through ClientAssertionCredential and reads ARM with it', async () => {
    const jobToken = emu.ado.issueJobToken({ org: seed.ado.org, project: seed.ado.project });
    const logStart = emu.requests.length;
    let fetched = 0;
    const credential = new ClientAssertionCredential(
      seed.tenantId,
      seed.servicePrincipals.federated.clientId,
      async () => {
        fetched += 1;
        const res = await fetchOidc(jobToken, seed.ado.serviceConnections.wif.id);
        assert.equal(res.status, 200, res.text);
        return String(res.json().oidcToken);
      },
      idOpts(),
    );
    const ws = await mlClient(credential).workspaces.get(seed.resourceGroup, seed.workspace.name);
    assert.equal(ws.name, seed.workspace.name);
    // The credential asks the callback whenever MSAL needs an assertion; each ask hit the OIDC route.
    assert.ok(fetched >= 1);
    assert.equal(emu.requests.slice(logStart).filter((r) => r.path.endsWith('/oidctoken')).length, fetched);
    const last = emu.requests.filter((r) => r.service === 'arm').at(-1);
    assert.equal(last?.principal?.id, seed.servicePrincipals.federated.objectId);
  });

  it('refuses an expired OIDC assertion with AADSTS700024 and a wrong subject with AADSTS700213', async () => {
    const jobToken = emu.ado.issueJobToken({ org: seed.ado.org, project: seed.ado.project });
    const oidc = String((await fetchOidc(jobToken, seed.ado.serviceConnections.wif.id)).json().oidcToken);
    const exchange = (assertion: string): Promise<RawResponse> =>
      raw(
        'POST',
        `/${seed.tenantId}/oauth2/v2.0/token`,
        tokenForm({
          grant_type: 'client_credentials',
          client_id: seed.servicePrincipals.federated.clientId,
          client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
          client_assertion: assertion,
          scope: 'https://management.azure.com/.default',
        }),
      );
    assert.equal((await exchange(oidc)).status, 200);
    emu.clock.advance(11 * 60 * 1000);
    const expired = await exchange(oidc);
    assert.equal(expired.status, 400);
    assert.match(String(expired.json().error_description), /^AADSTS700024: Client assertion is not within its valid time range\./);
    emu.clock.reset();
    const other = String((await fetchOidc(jobToken, seed.ado.serviceConnections.secret.id)).json().oidcToken);
    const wrong = await exchange(other);
    assert.equal(wrong.status, 401);
    assert.match(
      String(wrong.json().error_description),
      /^AADSTS700213: No matching federated identity record found for presented assertion subject 'sc:\/\/contoso\/mlops\/aml-prod-spn'/,
    );
  });

  it('serves managed identity tokens through IMDS to ManagedIdentityCredential (system and user assigned)', async () => {
    const saved = process.env.AZURE_POD_IDENTITY_AUTHORITY_HOST;
    process.env.AZURE_POD_IDENTITY_AUTHORITY_HOST = emu.url;
    try {
      const system = await new ManagedIdentityCredential({ tlsOptions: { ca: emu.caCertPem } }).getToken(
        'https://management.azure.com/.default',
      );
      const sys = emu.entra.verifyAccessToken(system.token);
      assert.ok(sys.ok && sys.info.oid === seed.managedIdentities.system.objectId);
      const user = await new ManagedIdentityCredential({
        clientId: seed.managedIdentities.user.clientId,
        tlsOptions: { ca: emu.caCertPem },
      }).getToken('https://management.azure.com/.default');
      const usr = emu.entra.verifyAccessToken(user.token);
      assert.ok(usr.ok && usr.info.oid === seed.managedIdentities.user.objectId);
      assert.equal(usr.ok && usr.info.claims.xms_mirid, seed.managedIdentities.user.resourceId);
    } finally {
      if (saved === undefined) delete process.env.AZURE_POD_IDENTITY_AUTHORITY_HOST;
      else process.env.AZURE_POD_IDENTITY_AUTHORITY_HOST = saved;
    }
    const noHeader = await raw('GET', '/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://management.azure.com/');
    assert.equal(noHeader.status, 400);
    assert.equal(noHeader.json().error_description, 'Required metadata header not specified');
  });
});

describe('ARM', () => {
  it('returns the private workspace through the ARM SDK', async () => {
    const client = mlClient(secretCredential());
    const ws = await client.workspaces.get(seed.resourceGroup, seed.workspace.name);
    assert.equal(ws.publicNetworkAccess, 'Disabled');
    assert.equal(ws.workspaceId, seed.workspace.workspaceGuid);
    assert.match(ws.storageAccount ?? '', /\/providers\/Microsoft\.Storage\/storageAccounts\//);
    assert.match(ws.keyVault ?? '', /\/providers\/Microsoft\.KeyVault\/vaults\//);
    assert.match(ws.containerRegistry ?? '', /\/providers\/Microsoft\.ContainerRegistry\/registries\//);
    assert.equal(ws.privateEndpointConnections?.[0].privateLinkServiceConnectionState?.status, 'Approved');
    const pecs = client.privateEndpointConnections.list(seed.resourceGroup, seed.workspace.name);
    const list = [];
    for await (const p of pecs) list.push(p);
    assert.equal(list[0].name, seed.privateEndpointConnectionName);
    const byRg = [];
    for await (const w of client.workspaces.listByResourceGroup(seed.resourceGroup)) byRg.push(w.name);
    assert.deepEqual(byRg, [seed.workspace.name]);
  });

  it('answers 403 AuthorizationFailed with ARM’s exact text before any existence check', async () => {
    const sp = emu.entra.addServicePrincipal({
      tenantId: seed.tenantId,
      displayName: 'no-role',
      secret: 'no-role-secret-value-0123456789',
    });
    const token = await armToken(sp.clientId, 'no-role-secret-value-0123456789');
    for (const name of [seed.workspace.name, 'does-not-exist']) {
      const res = await raw('GET', `${wsPath(name)}?api-version=2024-04-01`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(res.status, 403);
      assert.deepEqual(res.json(), {
        error: {
          code: 'AuthorizationFailed',
          message: `The client '${sp.clientId}' with object id '${sp.objectId}' does not have authorization to perform action 'Microsoft.MachineLearningServices/workspaces/read' over scope '${wsPath(name)}' or the scope is invalid. If access was recently granted, please refresh your credentials.`,
        },
      });
    }
    const reader = await armToken(seed.servicePrincipals.reader.clientId, seed.servicePrincipals.reader.secret);
    assert.equal((await raw('GET', `${wsPath()}?api-version=2024-04-01`, { headers: { authorization: `Bearer ${reader}` } })).status, 200);
    assert.ok(
      !emu.arm.rbac.isAllowed(
        seed.servicePrincipals.reader.objectId,
        'Microsoft.MachineLearningServices/workspaces/jobs/write',
        seed.workspace.id,
      ),
    );
    emu.arm.grantRole(sp.objectId, 'AzureML Data Scientist', seed.workspace.id);
    assert.ok(emu.arm.rbac.isAllowed(sp.objectId, 'Microsoft.MachineLearningServices/workspaces/jobs/write', seed.workspace.id));
    assert.ok(
      !emu.arm.rbac.isAllowed(
        sp.objectId,
        'Microsoft.MachineLearningServices/workspaces/computes/write',
        `${seed.workspace.id}/computes/c1`,
      ),
    );
  });

  it('answers missing subscriptions, groups and workspaces with ARM’s 404 codes', async () => {
    const sp = emu.entra.addServicePrincipal({ tenantId: seed.tenantId, secret: 'sub-reader-secret-0123456789abcdef' });
    emu.arm.grantRole(sp.objectId, 'Reader', `/subscriptions/${seed.subscriptionId}`);
    const auth = { authorization: `Bearer ${await armToken(sp.clientId, 'sub-reader-secret-0123456789abcdef')}` };
    const rg = await raw('GET', `${wsPath('x', 'rg-missing')}?api-version=2024-04-01`, { headers: auth });
    assert.deepEqual(rg.json(), { error: { code: 'ResourceGroupNotFound', message: "Resource group 'rg-missing' could not be found." } });
    const ws = await raw('GET', `${wsPath('mlw-missing')}?api-version=2024-04-01`, { headers: auth });
    assert.equal(ws.status, 404);
    assert.deepEqual(ws.json(), {
      error: {
        code: 'ResourceNotFound',
        message: `The Resource 'Microsoft.MachineLearningServices/workspaces/mlw-missing' under resource group '${seed.resourceGroup}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`,
      },
    });
    const sub = await raw('GET', `${wsPath('x', 'rg', '00000000-0000-0000-0000-0000000000ff')}?api-version=2024-04-01`, { headers: auth });
    assert.equal(sub.status, 404);
    assert.equal(sub.json().error && (sub.json().error as Record<string, unknown>).code, 'SubscriptionNotFound');
  });

  it('checks the token (missing, wrong audience, expired) and the api-version like ARM', async () => {
    const noAuth = await raw('GET', `${wsPath()}?api-version=2024-04-01`);
    assert.equal(noAuth.status, 401);
    assert.match(String(noAuth.headers['www-authenticate']), /^Bearer authorization_uri="/);
    assert.equal((noAuth.json().error as Record<string, unknown>).code, 'AuthenticationFailed');

    const adoToken = await armToken(
      seed.servicePrincipals.secret.clientId,
      seed.servicePrincipals.secret.secret,
      '499b84ac-1321-427f-aa17-267ca6975798/.default',
    );
    const aud = await raw('GET', `${wsPath()}?api-version=2024-04-01`, { headers: { authorization: `Bearer ${adoToken}` } });
    assert.equal(aud.status, 401);
    assert.match(
      String((aud.json().error as Record<string, unknown>).message),
      /^The access token has been obtained for wrong audience or resource '499b84ac-/,
    );

    const auth = {
      authorization: `Bearer ${await armToken(seed.servicePrincipals.secret.clientId, seed.servicePrincipals.secret.secret)}`,
    };
    const missing = await raw('GET', wsPath(), { headers: auth });
    assert.deepEqual(missing.json(), {
      error: {
        code: 'MissingApiVersionParameter',
        message: 'The api-version query parameter (?api-version=) is required for all requests.',
      },
    });
    const invalid = await raw('GET', `${wsPath()}?api-version=2099-01-01`, { headers: auth });
    assert.equal(invalid.status, 400);
    assert.match(
      String((invalid.json().error as Record<string, unknown>).message),
      /^The api-version '2099-01-01' is invalid\. The supported versions are '.*2024-04-01.*2022-10-01/,
    );
    for (const v of ['2022-10-01', '2023-04-01', '2023-10-01', '2024-04-01', '2024-10-01', '2025-06-01']) {
      assert.equal((await raw('GET', `${wsPath()}?api-version=${v}`, { headers: auth })).status, 200, v);
    }
    emu.expireTokens();
    const expired = await raw('GET', `${wsPath()}?api-version=2024-04-01`, { headers: auth });
    assert.equal(expired.status, 401);
    assert.equal((expired.json().error as Record<string, unknown>).code, 'ExpiredAuthenticationToken');
  });

  it('drives a long-running PUT to completion with the SDK poller, and reports a failed one', async () => {
    const computes = new Map<string, Record<string, unknown>>();
    const base =
      '/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.MachineLearningServices/workspaces/{workspaceName}/computes/{computeName}';
    emu.arm.route('PUT', base, {
      action: 'Microsoft.MachineLearningServices/workspaces/computes/write',
      handler: (req) => {
        const id = req.path;
        const body = {
          id,
          name: req.params.computeName,
          type: 'Microsoft.MachineLearningServices/workspaces/computes',
          properties: { computeType: 'Kubernetes', provisioningState: 'Creating' },
        };
        computes.set(id.toLowerCase(), body);
        const fail = req.params.computeName === 'broken';
        const op = emu.arm.startOperation({
          req,
          durationMs: 150,
          retryAfterSeconds: 0,
          outcome: fail ? 'Failed' : 'Succeeded',
          error: fail ? { code: 'ComputeAttachFailed', message: 'The AKS cluster is not reachable.' } : undefined,
          onComplete: (o) => {
            body.properties.provisioningState = o.status === 'Succeeded' ? 'Succeeded' : 'Failed';
          },
        });
        return { status: 201, body, headers: { 'Azure-AsyncOperation': op.headers['Azure-AsyncOperation'] } };
      },
    });
    emu.arm.route('GET', base, {
      action: 'Microsoft.MachineLearningServices/workspaces/computes/read',
      handler: (req) => ({ status: 200, body: computes.get(req.path.toLowerCase()) }),
    });
    const client = mlClient(secretCredential());
    const params = { properties: { computeType: 'Kubernetes' as const } };
    const done = await client.computeOperations.beginCreateOrUpdateAndWait(seed.resourceGroup, seed.workspace.name, 'k8s', params, {
      updateIntervalInMs: 20,
    });
    assert.equal(done.properties?.provisioningState, 'Succeeded');
    await assert.rejects(
      client.computeOperations.beginCreateOrUpdateAndWait(seed.resourceGroup, seed.workspace.name, 'broken', params, {
        updateIntervalInMs: 20,
      }),
      /ComputeAttachFailed|AKS cluster is not reachable/,
    );
    assert.ok(emu.requests.some((r) => r.path.includes('/mfeOperationsStatus/') && r.status === 200));
  });

  it('follows a Location-only 202 until the operation result answers 204', async () => {
    emu.arm.addWorkspace({ subscriptionId: seed.subscriptionId, resourceGroup: seed.resourceGroup, name: 'mlw-temp' });
    emu.arm.route(
      'DELETE',
      '/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.MachineLearningServices/workspaces/{workspaceName}',
      {
        action: 'Microsoft.MachineLearningServices/workspaces/delete',
        handler: (req) => {
          const id = req.path;
          const op = emu.arm.startOperation({ req, steps: 2, retryAfterSeconds: 0, onComplete: () => emu.arm.resources.delete(id) });
          return { status: 202, headers: { Location: op.headers.Location, 'Retry-After': '0' } };
        },
      },
    );
    const client = mlClient(secretCredential());
    await client.workspaces.beginDeleteAndWait(seed.resourceGroup, 'mlw-temp', { updateIntervalInMs: 20 });
    await assert.rejects(
      client.workspaces.get(seed.resourceGroup, 'mlw-temp'),
      (e: { statusCode?: number; code?: string }) => e.statusCode === 404 && e.code === 'ResourceNotFound',
    );
    const results = emu.requests.filter((r) => r.path.includes('/mfeOperationResults/')).map((r) => r.status);
    assert.deepEqual(results, [202, 204]);
  });
});

describe('fault injection', () => {
  it('makes the ARM SDK honour Retry-After on an injected 429', async () => {
    const client = mlClient(secretCredential());
    await client.workspaces.get(seed.resourceGroup, seed.workspace.name); // warm the token
    const fault = emu.faults.add({
      service: 'arm',
      method: 'GET',
      path: `/workspaces/${seed.workspace.name}`,
      kind: 'status',
      status: 429,
      retryAfterSeconds: 1,
    });
    const start = Date.now();
    const ws = await client.workspaces.get(seed.resourceGroup, seed.workspace.name);
    const elapsed = Date.now() - start;
    assert.equal(ws.name, seed.workspace.name);
    assert.equal(fault.hits, 1);
    assert.ok(elapsed >= 900, `waited ${elapsed} ms`);
    const calls = emu.requests.filter((r) => r.service === 'arm' && r.path === wsPath()).slice(-2);
    assert.deepEqual(
      calls.map((c) => c.status),
      [429, 200],
    );
    assert.equal(calls[0].fault, 'status');
  });

  it('resets, delays, stalls and corrupts responses on matching routes only', async () => {
    const path = `/${seed.ado.org}/_apis/ResourceAreas`;
    emu.faults.add({ path, kind: 'reset' });
    await assert.rejects(raw('GET', path), /socket hang up|ECONNRESET/);
    emu.faults.add({ path, kind: 'malformed' });
    const bad = await raw('GET', path);
    assert.equal(bad.status, 200);
    assert.throws(() => bad.json());
    emu.faults.add({ path, kind: 'delay', delayMs: 300 });
    const t = Date.now();
    assert.equal((await raw('GET', path)).status, 200);
    assert.ok(Date.now() - t >= 290);
    emu.faults.add({ path, kind: 'stall' });
    await assert.rejects(raw('GET', path, { timeoutMs: 200 }), /client timeout/);
    const err = emu.faults.add({ service: 'entra', path: '/oauth2/v2.0/token', kind: 'status', status: 503, times: 2 });
    const form = tokenForm({
      grant_type: 'client_credentials',
      client_id: seed.servicePrincipals.secret.clientId,
      client_secret: seed.servicePrincipals.secret.secret,
      scope: 'https://management.azure.com/.default',
    });
    const first = await raw('POST', `/${seed.tenantId}/oauth2/v2.0/token`, form);
    assert.equal(first.status, 503);
    assert.equal(first.headers['retry-after'], '1');
    assert.equal((await raw('POST', `/${seed.tenantId}/oauth2/v2.0/token`, form)).status, 503);
    assert.equal((await raw('POST', `/${seed.tenantId}/oauth2/v2.0/token`, form)).status, 200);
    assert.equal(err.hits, 2);
    assert.equal(err.active, false);
  });
});

describe('Azure DevOps', () => {
  const GIT_POLICY_LOCATION = '2c420070-a0a2-49cc-9639-c9f271c5ff07';

  it('serves location OPTIONS so azure-devops-node-api can read policy configurations with the job token', async () => {
    const jobToken = emu.ado.issueJobToken({ org: seed.ado.org, project: seed.ado.project });
    const webApi = new WebApi(seed.ado.collectionUri, getBearerHandler(jobToken), { cert: { caFile: emu.caFile } });
    const git = await webApi.getGitApi();
    const ver = await git.vsoClient.getVersioningData(
      '7.1',
      'git',
      GIT_POLICY_LOCATION,
      { project: seed.ado.project },
      { repositoryId: seed.ado.repository.id, refName: 'refs/heads/main' },
    );
    assert.ok(ver.requestUrl && ver.apiVersion);
    const res = await git.rest.get<{
      count: number;
      value: Array<{ id: number; isBlocking: boolean; settings: { minimumApproverCount: number }; type: { id: string } }>;
    }>(ver.requestUrl, git.createRequestOptions('application/json', ver.apiVersion));
    assert.equal(res.statusCode, 200);
    assert.equal(res.result?.count, 1);
    assert.equal(res.result?.value[0].type.id, 'fa4e907d-c16b-4a4c-9dfa-4906e5d171dd');
    assert.equal(res.result?.value[0].settings.minimumApproverCount, 2);
    assert.equal(res.result?.value[0].isBlocking, true);
    const policyApi = await webApi.getPolicyApi();
    const all = await policyApi.getPolicyConfigurations(seed.ado.project);
    assert.equal(all.length, 1);
    assert.ok(emu.requests.some((r) => r.method === 'OPTIONS' && r.path === `/${seed.ado.org}/_apis/git`));
  });

  it('filters policies by repository and ref like Azure DevOps (Exact, Prefix, repository-less, disabled, deleted)', async () => {
    const project = emu.ado.addProject({ org: seed.ado.org, name: 'filtering' });
    const repoA = emu.ado.addRepository({ project: project.name, name: 'a' });
    const repoB = emu.ado.addRepository({ project: project.name, name: 'b' });
    const add = (
      scope: Array<{ repositoryId?: string; refName?: string; matchKind?: 'Exact' | 'Prefix' }>,
      extra: { isEnabled?: boolean; type?: 'minimumReviewers' | 'build' } = {},
    ): number =>
      Number(emu.ado.addPolicy({ project: project.name, type: extra.type ?? 'minimumReviewers', isEnabled: extra.isEnabled, scope }).id);
    const p1 = add([{ repositoryId: repoA.id, refName: 'refs/heads/main', matchKind: 'Exact' }]);
    const p2 = add([{ refName: 'refs/heads/release/', matchKind: 'Prefix' }]);
    const p3 = add([{ repositoryId: repoB.id, refName: 'refs/heads/main', matchKind: 'Exact' }]);
    const p4 = add([{ refName: 'refs/heads/main', matchKind: 'Exact' }], { isEnabled: false });
    const p5 = add([{ repositoryId: repoA.id, refName: 'refs/heads/main' }]);
    emu.ado.deletePolicy(p5);
    const p6 = add([{ repositoryId: repoA.id }]);
    const p7 = add([{ repositoryId: repoA.id, refName: 'refs/heads/main' }], { type: 'build' });
    const token = emu.ado.issueJobToken({ project: project.name });
    const ids = async (query: string): Promise<number[]> => {
      const res = await raw('GET', `/${seed.ado.org}/${project.name}/_apis/git/policy/configurations?${query}&api-version=7.1`, {
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(res.status, 200, res.text);
      return (res.json().value as Array<{ id: number }>).map((p) => p.id);
    };
    assert.deepEqual(await ids(`repositoryId=${repoA.id}&refName=refs/heads/main`), [p1, p4, p6, p7]);
    assert.deepEqual(await ids(`repositoryId=${repoA.id}&refName=refs/heads/main&policyType=fa4e907d-c16b-4a4c-9dfa-4906e5d171dd`), [
      p1,
      p4,
      p6,
    ]);
    assert.deepEqual(await ids(`repositoryId=${repoA.id}&refName=refs/heads/release/1.0`), [p2, p6]);
    assert.deepEqual(await ids(`repositoryId=${repoB.id}&refName=refs/heads/main`), [p3, p4]);
    assert.deepEqual(await ids(`repositoryId=${repoA.id}&refName=refs/heads/main-fix`), [p6]);
    assert.deepEqual(await ids(`repositoryId=${repoA.id}&refName=refs/heads/releasex`), [p6]);
    assert.deepEqual(await ids(`repositoryId=${repoA.id}&refName=refs/heads/Main`), [p6]);
    assert.deepEqual(await ids('refName=refs/heads/main'), [p4]);
  });

  it('refuses missing, foreign and under-privileged job tokens with Azure DevOps error shapes', async () => {
    const url = `/${seed.ado.org}/${seed.ado.project}/_apis/git/policy/configurations?api-version=7.1`;
    const anon = await raw('GET', url);
    assert.equal(anon.status, 401);
    assert.equal(anon.json().typeKey, 'UnauthorizedRequestException');
    assert.match(String(anon.json().message), /^TF400813:/);
    const weak = emu.ado.issueJobToken({ project: seed.ado.project, canReadPolicies: false });
    const denied = await raw('GET', url, { headers: { authorization: `Bearer ${weak}` } });
    assert.equal(denied.status, 403);
    assert.equal(denied.json().typeKey, 'AccessCheckException');
    const other = emu.ado.issueJobToken({ project: 'filtering' });
    const foreign = await raw('GET', url, { headers: { authorization: `Bearer ${other}` } });
    assert.equal(foreign.status, 404);
    assert.match(String(foreign.json().message), /^TF200016: The following project does not exist: mlops\./);
    const job = emu.ado.issueJobToken({ project: seed.ado.project });
    const noSc = await raw(
      'POST',
      `${emu.ado.oidcRequestUri(job)}?api-version=7.1&serviceConnectionId=00000000-0000-0000-0000-000000000000`,
      { headers: { authorization: `Bearer ${job}` }, body: '{}' },
    );
    assert.equal(noSc.status, 404);
    const noJob = await raw(
      'POST',
      `${emu.ado.oidcRequestUri(job)}?api-version=7.1&serviceConnectionId=${seed.ado.serviceConnections.wif.id}`,
      { body: '{}' },
    );
    assert.equal(noJob.status, 401);
    const oidc = decodeJwt(String((await fetchOidc(job, seed.ado.serviceConnections.wif.id)).json().oidcToken));
    assert.equal(oidc?.payload.sub, 'sc://contoso/mlops/aml-prod');
    assert.equal(oidc?.payload.iss, `https://vstoken.dev.azure.com/${seed.ado.orgId}`);
    assert.equal(oidc?.payload.aud, 'api://AzureADTokenExchange');
  });

  it('lists the branch control check of a service connection, preview api-version required', async () => {
    const job = emu.ado.issueJobToken({ project: seed.ado.project });
    const base = `/${seed.ado.org}/${seed.ado.project}/_apis/pipelines/checks/configurations?resourceType=endpoint&resourceId=${seed.ado.serviceConnections.wif.id}&$expand=settings`;
    const auth = { authorization: `Bearer ${job}` };
    const released = await raw('GET', `${base}&api-version=7.1`, { headers: auth });
    assert.equal(released.status, 400);
    assert.equal(released.json().typeKey, 'VssInvalidPreviewVersionException');
    const res = await raw('GET', `${base}&api-version=7.1-preview.1`, { headers: auth });
    assert.equal(res.status, 200);
    const [check] = res.json().value as Array<{
      type: { name: string };
      resource: { type: string; id: string };
      settings: { definitionRef: { name: string }; inputs: { allowedBranches: string } };
    }>;
    assert.equal(check.type.name, 'Task Check');
    assert.equal(check.settings.definitionRef.name, 'evaluatebranchProtection');
    assert.equal(check.settings.inputs.allowedBranches, 'refs/heads/main');
    assert.deepEqual({ type: check.resource.type, id: check.resource.id }, { type: 'endpoint', id: seed.ado.serviceConnections.wif.id });
  });
});

describe('task child process', () => {
  it('trusts the emulator through NODE_EXTRA_CA_CERTS alone and records no secret in the request log', async () => {
    const script = `
      const { ClientSecretCredential } = require('@azure/identity');
      (async () => {
        const e = process.env;
        const cred = new ClientSecretCredential(e.T_TENANT, e.T_CLIENT, e.T_SECRET, { authorityHost: e.T_URL, disableInstanceDiscovery: true });
        const { token } = await cred.getToken(e.T_URL + '/.default');
        const res = await fetch(e.T_URL + e.T_PATH + '?api-version=2024-04-01', { headers: { authorization: 'Bearer ' + token } });
        process.stdout.write(JSON.stringify({ status: res.status, body: await res.json() }));
      })().catch((err) => { process.stdout.write(JSON.stringify({ error: String(err) })); });`;
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, ['-e', script], {
        cwd: process.cwd(),
        env: {
          PATH: process.env.PATH,
          NODE_EXTRA_CA_CERTS: emu.caFile,
          T_URL: emu.url,
          T_TENANT: seed.tenantId,
          T_CLIENT: seed.servicePrincipals.secret.clientId,
          T_SECRET: seed.servicePrincipals.secret.secret,
          T_PATH: wsPath(),
        },
      });
      let stdout = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.on('error', reject);
      child.on('close', () => resolve(stdout));
    });
    const parsed = JSON.parse(out) as { status?: number; body?: { name?: string }; error?: string };
    assert.equal(parsed.status, 200, out);
    assert.equal(parsed.body?.name, seed.workspace.name);
    const logged = JSON.stringify(emu.requests);
    for (const s of emu.secrets()) assert.ok(!logged.includes(s), 'request log holds no secret');
    assert.ok(emu.secrets().includes(seed.servicePrincipals.secret.secret));
    assert.ok(emu.secrets().some((s) => seed.servicePrincipals.certificate.keyPem.includes(s) && s.length >= 32 && !s.startsWith('-----')));
  });
});
