// What an Azure Pipelines agent would hand a task that uses the seeded service connections and
// job, as harness RunOptions parts (endpoints + variables); testkit/harness.ts turns them into the
// agent's environment variables (one place for that mapping).
import type { Endpoint } from '../harness';
import type { DevOpsService } from './devops';
import type { SeedConnectionKind, SeedResult } from './seed';

export type { SeedConnectionKind };

export interface SeedConnection {
  id: string;
  name: string;
  scheme: 'ServicePrincipal' | 'WorkloadIdentityFederation' | 'ManagedServiceIdentity';
  endpoint: Endpoint;
}

/** One of the seeded AzureRM service connections, as the agent passes it. */
export function seedConnection(seed: SeedResult, kind: SeedConnectionKind, opts: { userAssignedMi?: boolean } = {}): SeedConnection {
  const sc = seed.ado.serviceConnections[kind];
  let scheme: SeedConnection['scheme'];
  let parameters: Record<string, string>;
  switch (kind) {
    case 'secret':
      scheme = 'ServicePrincipal';
      parameters = {
        serviceprincipalid: seed.servicePrincipals.secret.clientId,
        serviceprincipalkey: seed.servicePrincipals.secret.secret,
        tenantid: seed.tenantId,
        authenticationType: 'spnKey',
      };
      break;
    case 'certificate':
      scheme = 'ServicePrincipal';
      parameters = {
        serviceprincipalid: seed.servicePrincipals.certificate.clientId,
        servicePrincipalCertificate: seed.servicePrincipals.certificate.pem,
        tenantid: seed.tenantId,
        authenticationType: 'spnCertificate',
      };
      break;
    case 'wif':
      scheme = 'WorkloadIdentityFederation';
      parameters = {
        serviceprincipalid: seed.servicePrincipals.federated.clientId,
        tenantid: seed.tenantId,
        workloadIdentityFederationIssuer: seed.servicePrincipals.federated.issuer,
        workloadIdentityFederationSubject: seed.servicePrincipals.federated.subject,
      };
      break;
    case 'managedIdentity':
      scheme = 'ManagedServiceIdentity';
      parameters = { tenantid: seed.tenantId };
      break;
  }
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
  if (kind === 'managedIdentity' && opts.userAssignedMi) data.msiclientId = seed.managedIdentities.user.clientId;
  return { id: sc.id, name: sc.name, scheme, endpoint: { url: seed.armUrl, scheme, parameters, data } };
}

export interface SeedJob {
  variables: Record<string, string>;
  endpoints: Record<string, Endpoint>;
  env: Record<string, string>;
}

/** System.*, Build.* variables and the SystemVssConnection endpoint of a CI run of main. */
export function seedJob(seed: SeedResult, ado: DevOpsService, jobToken: string, caFile: string): SeedJob {
  const job = ado.jobInfo(jobToken);
  return {
    env: { NODE_EXTRA_CA_CERTS: caFile },
    variables: {
      'System.CollectionUri': seed.ado.collectionUri,
      'System.TeamFoundationCollectionUri': seed.ado.collectionUri,
      'System.TeamProject': job.projectName,
      'System.TeamProjectId': job.projectId,
      'System.HostType': job.hubName,
      'System.PlanId': job.planId,
      'System.JobId': job.jobId,
      'System.OidcRequestUri': ado.oidcRequestUri(jobToken),
      'Build.Repository.ID': seed.ado.repository.id,
      'Build.Repository.Name': seed.ado.repository.name,
      'Build.Repository.Provider': 'TfsGit',
      'Build.SourceBranch': seed.ado.repository.defaultBranch,
      'Build.SourceVersion': seed.ado.repository.mainHead,
      'Build.BuildId': '4711',
      'Build.DefinitionName': 'mlops-train',
      'Build.Reason': 'IndividualCI',
    },
    endpoints: { SYSTEMVSSCONNECTION: { url: seed.ado.collectionUri, scheme: 'OAuth', parameters: { AccessToken: jobToken } } },
  };
}
