// Azure Instance Metadata Service token endpoint, as seen from the emulated agent VM.
// @azure/identity reaches it when AZURE_POD_IDENTITY_AUTHORITY_HOST=<emulator url>.
import type { EntraService, ManagedIdentity } from './entra';
import { type EmuRequest, type EmuResponse, header } from './types';

function imdsError(description: string, status = 400): EmuResponse {
  return { status, body: { error: 'invalid_request', error_description: description } };
}

export class ImdsService {
  constructor(private readonly entra: EntraService) {}

  async handle(req: EmuRequest): Promise<EmuResponse> {
    const path = req.segments.join('/').toLowerCase();
    if (path !== 'metadata/identity/oauth2/token') {
      return { status: 404, body: { error: 'not_found', error_description: `Emulated IMDS has no endpoint ${req.url.pathname}` } };
    }
    if (req.method !== 'GET') return imdsError('Only GET is supported', 405);
    // IMDS refuses requests without Metadata: true (SSRF protection); identity relies on this in its probe.
    if (header(req, 'metadata')?.toLowerCase() !== 'true') return imdsError('Required metadata header not specified');
    const q = req.url.searchParams;
    if (!q.get('api-version')) return imdsError("Required query variable 'api-version' is missing");
    const resource = q.get('resource');
    if (!resource) return imdsError("Required query variable 'resource' is missing");

    const attached = this.entra.managedIdentities().filter((m) => m.attached);
    const clientId = q.get('client_id')?.toLowerCase();
    const objectId = (q.get('object_id') ?? q.get('principal_id'))?.toLowerCase();
    const resId = (q.get('msi_res_id') ?? q.get('mi_res_id'))?.toLowerCase();
    let identity: ManagedIdentity | undefined;
    if (clientId) identity = attached.find((m) => m.clientId === clientId);
    else if (objectId) identity = attached.find((m) => m.objectId === objectId);
    else if (resId) identity = attached.find((m) => m.resourceId.toLowerCase() === resId);
    else {
      const system = attached.find((m) => m.identityType === 'SystemAssigned');
      const users = attached.filter((m) => m.identityType === 'UserAssigned');
      if (system) identity = system;
      else if (users.length === 1) identity = users[0];
      else if (users.length > 1) {
        return imdsError(
          'Multiple user assigned identities exist, please specify the clientId / resourceId of the identity in the token request',
        );
      }
    }
    if (!identity) return imdsError('Identity not found');

    const issued = this.entra.issueAccessToken(identity, resource);
    return {
      status: 200,
      // IMDS sends the numeric fields as strings.
      body: {
        access_token: issued.accessToken,
        client_id: identity.clientId,
        expires_in: String(issued.expiresIn),
        expires_on: String(issued.expiresOn),
        ext_expires_in: String(issued.expiresIn),
        not_before: String(issued.notBefore),
        resource,
        token_type: 'Bearer',
      },
      principal: { kind: 'managedIdentity', id: identity.objectId, appId: identity.clientId, tenantId: identity.tenantId },
    };
  }
}
