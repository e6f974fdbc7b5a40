// The environment variables an Azure Pipelines agent would give a task that uses the seeded
// service connections and job, pointed at the emulator. Names follow azure-pipelines-task-lib
// (ENDPOINT_URL_<id>, ENDPOINT_AUTH_<id>, ENDPOINT_AUTH_PARAMETER_<id>_<KEY>, ENDPOINT_DATA_<id>_<KEY>).
import type { DevOpsService } from './devops';
import type { SeedResult } from './seed';

export type SeedConnectionKind = 'wif' | 'secret' | 'certificate' | 'managedIdentity';

export interface EndpointDescription {
  id: string;
  name: string;
  scheme: 'ServicePrincipal' | 'WorkloadIdentityFederation' | 'ManagedServiceIdentity';
  env: Record<string, string>;
}

/** ENDPOINT_* variables for one of the seeded AzureRM service connections. */
export function serviceConnectionEnv(seed: SeedResult, kind: SeedConnectionKind, opts: { userAssignedMi?: boolean } = {}): EndpointDescription {
  const sc = seed.ado.serviceConnections[kind];
  let scheme: EndpointDescription['scheme'];
  let params: Record<string, string>;
  switch (kind) {
    case 'secret':
      scheme = 'ServicePrincipal';
      params = { serviceprincipalid: seed.servicePrincipals.secret.clientId, serviceprincipalkey: seed.servicePrincipals.secret.secret, tenantid: seed.tenantId, authenticationType: 'spnKey' };
      break;
    case 'certificate':
      scheme = 'ServicePrincipal';
      params = { serviceprincipalid: seed.servicePrincipals.certificate.clientId, servicePrincipalCertificate: seed.servicePrincipals.certificate.pem, tenantid: seed.tenantId, authenticationType: 'spnCertificate' };
      break;
    case 'wif':
      scheme = 'WorkloadIdentityFederation';
      params = {
        serviceprincipalid: seed.servicePrincipals.federated.clientId,
        tenantid: seed.tenantId,
        workloadIdentityFederationIssuer: seed.servicePrincipals.federated.issuer,
        workloadIdentityFederationSubject: seed.servicePrincipals.federated.subject,
      };
      break;
    case 'managedIdentity':
      scheme = 'ManagedServiceIdentity';
      params = { tenantid: seed.tenantId };
      if (opts.userAssignedMi) params.msiclientId = seed.managedIdentities.user.clientId;
      break;
  }
  const env: Record<string, string> = {
    [`ENDPOINT_URL_${sc.id}`]: seed.armUrl,
    [`ENDPOINT_AUTH_${sc.id}`]: JSON.stringify({ parameters: params, scheme }),
    [`ENDPOINT_AUTH_SCHEME_${sc.id}`]: scheme,
  };
  for (const [k, v] of Object.entries(params)) env[`ENDPOINT_AUTH_PARAMETER_${sc.id}_${k.toUpperCase()}`] = v;
  const data: Record<string, string> = {
    environment: 'AzureCloud',
    scopeLevel: 'Subscription',
    subscriptionId: seed.subscriptionId,
    subscriptionName: 'Contoso ML Production',
    creationMode: 'Manual',
    environmentAuthorityUrl: seed.authorityHost,
    activeDirectoryAuthority: seed.authorityHost,
    activeDirectoryServiceEndpointResourceId: 'https://management.core.windows.net/',
    resourceManagerUrl: seed.armUrl,
  };
  for (const [k, v] of Object.entries(data)) env[`ENDPOINT_DATA_${sc.id}_${k.toUpperCase()}`] = v;
  return { id: sc.id, name: sc.name, scheme, env };
}

/** System.*, Build.* and SystemVssConnection variables of a job in the seeded project. */
export function jobEnv(seed: SeedResult, ado: DevOpsService, jobToken: string, caFile: string): Record<string, string> {
  const job = ado.jobInfo(jobToken);
  return {
    NODE_EXTRA_CA_CERTS: caFile,
    SYSTEM_COLLECTIONURI: seed.ado.collectionUri,
    SYSTEM_TEAMFOUNDATIONCOLLECTIONURI: seed.ado.collectionUri,
    SYSTEM_TEAMPROJECT: job.projectName,
    SYSTEM_TEAMPROJECTID: job.projectId,
    SYSTEM_HOSTTYPE: job.hubName,
    SYSTEM_PLANID: job.planId,
    SYSTEM_JOBID: job.jobId,
    SYSTEM_ACCESSTOKEN: jobToken,
    SYSTEM_OIDCREQUESTURI: ado.oidcRequestUri(jobToken),
    ENDPOINT_URL_SYSTEMVSSCONNECTION: seed.ado.collectionUri,
    ENDPOINT_AUTH_SYSTEMVSSCONNECTION: JSON.stringify({ parameters: { AccessToken: jobToken }, scheme: 'OAuth' }),
    ENDPOINT_AUTH_SCHEME_SYSTEMVSSCONNECTION: 'OAuth',
    ENDPOINT_AUTH_PARAMETER_SYSTEMVSSCONNECTION_ACCESSTOKEN: jobToken,
    BUILD_REPOSITORY_ID: seed.ado.repository.id,
    BUILD_REPOSITORY_NAME: seed.ado.repository.name,
    BUILD_REPOSITORY_PROVIDER: 'TfsGit',
    BUILD_SOURCEBRANCH: seed.ado.repository.defaultBranch,
    BUILD_REASON: 'IndividualCI',
  };
}
