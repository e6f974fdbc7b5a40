// The default demo state: one tenant, the four kinds of service connection identities, a
// private production workspace, and an Azure DevOps project whose main branch is protected.
// Ids are fixed (readable, documented here); secrets and keys are fresh on every start.
import type { AddWorkspaceOptions } from './aml';
import type { ArmService } from './arm';
import type { DevOpsService } from './devops';
import type { EntraService } from './entra';
import type { JsonObject } from './jwt';
import { makeSelfSignedCertificate } from './tls';

export const SEED_IDS = {
  tenantId: '72f988bf-0000-4000-8000-000000000001',
  subscriptionId: '00000000-0000-0000-0000-0000000000aa',
  resourceGroup: 'rg-aml-prod',
  location: 'eastus',
  workspaceName: 'mlw-prod',
  workspaceGuid: '5a1b2c3d-0000-4000-8000-00000000a001',
  privateEndpointName: 'pe-mlw-prod',
  secretSp: { clientId: '11111111-0000-4000-8000-000000000011', objectId: '11111111-0000-4000-8000-000000000012' },
  certificateSp: { clientId: '22222222-0000-4000-8000-000000000021', objectId: '22222222-0000-4000-8000-000000000022' },
  federatedSp: { clientId: '33333333-0000-4000-8000-000000000031', objectId: '33333333-0000-4000-8000-000000000032' },
  /** A person-like principal holding only Reader on the workspace (users are Readers in production). */
  readerSp: { clientId: '44444444-0000-4000-8000-000000000041', objectId: '44444444-0000-4000-8000-000000000042' },
  userAssignedMi: {
    clientId: '55555555-0000-4000-8000-000000000051',
    objectId: '55555555-0000-4000-8000-000000000052',
    name: 'id-aml-agent',
  },
  systemAssignedMi: {
    clientId: '66666666-0000-4000-8000-000000000061',
    objectId: '66666666-0000-4000-8000-000000000062',
    vmName: 'vm-build-agent-01',
  },
  org: 'contoso',
  orgId: 'c0c0c0c0-0000-4000-8000-0000000000c1',
  project: 'mlops',
  projectId: 'c0c0c0c0-0000-4000-8000-0000000000c2',
  repository: 'mlops-repo',
  repositoryId: 'c0c0c0c0-0000-4000-8000-0000000000c3',
  serviceConnections: {
    wif: { id: 'd0d0d0d0-0000-4000-8000-0000000000d1', name: 'aml-prod' },
    secret: { id: 'd0d0d0d0-0000-4000-8000-0000000000d2', name: 'aml-prod-spn' },
    certificate: { id: 'd0d0d0d0-0000-4000-8000-0000000000d3', name: 'aml-prod-cert' },
    managedIdentity: { id: 'd0d0d0d0-0000-4000-8000-0000000000d4', name: 'aml-prod-msi' },
  },
} as const;

/** The seeded service connections' keys: wif, secret, certificate, managedIdentity. */
export type SeedConnectionKind = keyof typeof SEED_IDS.serviceConnections;

/** A value per seeded service connection, in SEED_IDS order. */
function perConnection<T>(f: (kind: SeedConnectionKind, ids: { id: string; name: string }) => T): Record<SeedConnectionKind, T> {
  return Object.fromEntries(
    Object.entries(SEED_IDS.serviceConnections).map(([kind, ids]) => [kind, f(kind as SeedConnectionKind, ids)]),
  ) as Record<SeedConnectionKind, T>;
}

export interface SeedPrincipal {
  clientId: string;
  objectId: string;
}

/** The people of the seeded repository: who writes changes and who reviews them. */
export const SEED_PEOPLE = {
  author: { id: '7a110000-0000-4000-8000-0000000000a1', displayName: 'Carol Author' },
  reviewers: [
    { id: '7a110000-0000-4000-8000-0000000000b1', displayName: 'Alice Reviewer' },
    { id: '7a110000-0000-4000-8000-0000000000b2', displayName: 'Bob Reviewer' },
  ],
};

export interface SeedResult {
  /** Emulator origin; also the ARM URL (ENDPOINT_URL) and the authority host. */
  url: string;
  armUrl: string;
  authorityHost: string;
  tenantId: string;
  subscriptionId: string;
  resourceGroup: string;
  location: string;
  workspace: { name: string; id: string; workspaceGuid: string; body: JsonObject };
  privateEndpointConnectionName: string;
  servicePrincipals: {
    secret: SeedPrincipal & { secret: string };
    certificate: SeedPrincipal & { pem: string; certPem: string; keyPem: string; thumbprintSha1: string };
    federated: SeedPrincipal & { issuer: string; subject: string };
    reader: SeedPrincipal & { secret: string };
  };
  managedIdentities: {
    system: SeedPrincipal & { resourceId: string };
    user: SeedPrincipal & { resourceId: string };
  };
  ado: {
    org: string;
    orgId: string;
    project: string;
    projectId: string;
    collectionUri: string;
    repository: { id: string; name: string; defaultBranch: string; mainHead: string };
    serviceConnections: Record<SeedConnectionKind, { id: string; name: string }>;
    minimumReviewersPolicyId: number;
    branchControlCheckId: number;
  };
}

export function seedDefault(env: {
  url: string;
  entra: EntraService;
  arm: ArmService;
  ado: DevOpsService;
  addWorkspace: (opts: AddWorkspaceOptions) => JsonObject;
  addSecret: (value: string) => void;
}): SeedResult {
  const { entra, arm, ado } = env;
  const S = SEED_IDS;
  entra.addTenant({ tenantId: S.tenantId, displayName: 'Contoso', domains: ['contoso.onmicrosoft.com'] });

  const secretSp = entra.addServicePrincipal({ tenantId: S.tenantId, displayName: 'sp-aml-prod-secret', ...S.secretSp, secret: true });
  const cert = makeSelfSignedCertificate('sp-aml-prod-cert');
  const certSp = entra.addServicePrincipal({
    tenantId: S.tenantId,
    displayName: 'sp-aml-prod-cert',
    ...S.certificateSp,
    certificatePem: cert.certPem,
  });
  // The private key is a credential (each of its base64 lines is registered); the certificate is public.
  env.addSecret(cert.keyPem);
  const fedSp = entra.addServicePrincipal({ tenantId: S.tenantId, displayName: 'sp-aml-prod-wif', ...S.federatedSp });
  const readerSp = entra.addServicePrincipal({ tenantId: S.tenantId, displayName: 'user-data-scientist', ...S.readerSp, secret: true });

  arm.addSubscription({ subscriptionId: S.subscriptionId, tenantId: S.tenantId, displayName: 'Contoso ML Production' });
  const rgId = arm.resourceGroupId(S.subscriptionId, S.resourceGroup);
  const vmId = `${rgId}/providers/Microsoft.Compute/virtualMachines/${S.systemAssignedMi.vmName}`;
  const uamiId = `${rgId}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${S.userAssignedMi.name}`;
  const systemMi = entra.addManagedIdentity({
    tenantId: S.tenantId,
    identityType: 'SystemAssigned',
    resourceId: vmId,
    clientId: S.systemAssignedMi.clientId,
    objectId: S.systemAssignedMi.objectId,
    displayName: S.systemAssignedMi.vmName,
  });
  const userMi = entra.addManagedIdentity({
    tenantId: S.tenantId,
    identityType: 'UserAssigned',
    resourceId: uamiId,
    clientId: S.userAssignedMi.clientId,
    objectId: S.userAssignedMi.objectId,
    displayName: S.userAssignedMi.name,
  });

  const wsBody = env.addWorkspace({
    subscriptionId: S.subscriptionId,
    resourceGroup: S.resourceGroup,
    name: S.workspaceName,
    location: S.location,
    publicNetworkAccess: 'Disabled',
    workspaceId: S.workspaceGuid,
    privateEndpointConnections: [
      { name: `${S.privateEndpointName}.${S.workspaceGuid}`, privateEndpointName: S.privateEndpointName, status: 'Approved' },
    ],
  });
  for (const p of [secretSp, certSp, fedSp, systemMi, userMi]) arm.grantRole(p.objectId, 'Contributor', rgId);
  arm.grantRole(readerSp.objectId, 'Reader', String(wsBody.id));

  const org = ado.addOrganization({ name: S.org, id: S.orgId });
  ado.addProject({ org: S.org, name: S.project, id: S.projectId });
  const repo = ado.addRepository({
    org: S.org,
    project: S.project,
    name: S.repository,
    id: S.repositoryId,
    defaultBranch: 'refs/heads/main',
  });
  // main has three merged commits; the last one is what a CI run of main builds.
  const mainHead = ado.pushCommits(repo.id, 'refs/heads/main', ['1'.repeat(40), '2'.repeat(40), '3'.repeat(40)]);
  // Each came in through a completed pull request that two people other than its author approved.
  for (const [i, commit] of ['1', '2', '3'].map((c) => c.repeat(40)).entries()) {
    ado.addPullRequest({
      repositoryId: repo.id,
      id: 101 + i,
      author: SEED_PEOPLE.author,
      lastMergeCommit: commit,
      reviewers: SEED_PEOPLE.reviewers.map((r) => ({ ...r, vote: 10 })),
    });
  }
  const scs = perConnection((_, ids) => ado.addServiceConnection({ org: S.org, project: S.project, ...ids }));
  const issuer = ado.issuer(S.org);
  const subject = ado.subject(S.org, S.project, S.serviceConnections.wif.name);
  entra.addFederatedCredential(fedSp, { name: 'ado-aml-prod', issuer, subject });

  const policy = ado.addPolicy({
    org: S.org,
    project: S.project,
    type: 'minimumReviewers',
    isEnabled: true,
    isBlocking: true,
    scope: [{ repositoryId: repo.id, refName: 'refs/heads/main', matchKind: 'Exact' }],
    settings: { minimumApproverCount: 2, creatorVoteCounts: false, resetOnSourcePush: true },
  });
  const check = ado.addCheck({
    org: S.org,
    project: S.project,
    resourceType: 'endpoint',
    resourceId: scs.wif.id,
    type: 'branchControl',
    settings: { allowedBranches: 'refs/heads/main', ensureProtectionOfBranch: true },
  });

  const pick = (p: { clientId: string; objectId: string }): SeedPrincipal => ({ clientId: p.clientId, objectId: p.objectId });
  return {
    url: env.url,
    armUrl: `${env.url}/`,
    authorityHost: `${env.url}/`,
    tenantId: S.tenantId,
    subscriptionId: S.subscriptionId,
    resourceGroup: S.resourceGroup,
    location: S.location,
    workspace: { name: S.workspaceName, id: String(wsBody.id), workspaceGuid: S.workspaceGuid, body: wsBody },
    privateEndpointConnectionName: `${S.privateEndpointName}.${S.workspaceGuid}`,
    servicePrincipals: {
      secret: { ...pick(secretSp), secret: secretSp.secrets[0] },
      certificate: {
        ...pick(certSp),
        pem: cert.combinedPem,
        certPem: cert.certPem,
        keyPem: cert.keyPem,
        thumbprintSha1: cert.thumbprintSha1Hex,
      },
      federated: { ...pick(fedSp), issuer, subject },
      reader: { ...pick(readerSp), secret: readerSp.secrets[0] },
    },
    managedIdentities: {
      system: { ...pick(systemMi), resourceId: vmId },
      user: { ...pick(userMi), resourceId: uamiId },
    },
    ado: {
      org: org.name,
      orgId: org.id,
      project: S.project,
      projectId: S.projectId,
      collectionUri: ado.collectionUri(S.org),
      repository: { id: repo.id, name: repo.name, defaultBranch: repo.defaultBranch, mainHead },
      serviceConnections: perConnection((kind) => ({ id: scs[kind].id, name: scs[kind].name })),
      minimumReviewersPolicyId: Number(policy.id),
      branchControlCheckId: Number(check.id),
    },
  };
}
