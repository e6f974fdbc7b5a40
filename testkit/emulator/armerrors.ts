// ARM error responses with the codes and message texts the real Resource Manager sends.

export interface ArmErrorBody {
  error: { code: string; message: string; target?: string; details?: unknown[]; additionalInfo?: unknown[] };
}

/** Throw from a route handler to answer with an ARM error. */
export class ArmError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
    readonly details?: unknown[],
  ) {
    super(message);
  }

  toBody(): ArmErrorBody {
    const error: ArmErrorBody['error'] = { code: this.code, message: this.message };
    if (this.details) error.details = this.details;
    return { error };
  }
}

/** .NET's invariant "M/d/yyyy h:mm:ss tt", which ARM uses in token expiry messages. */
export function dotNetUtc(ms: number): string {
  const d = new Date(ms);
  const h = d.getUTCHours();
  const hh = h % 12 === 0 ? 12 : h % 12;
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${d.getUTCMonth() + 1}/${d.getUTCDate()}/${d.getUTCFullYear()} ${hh}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} ${h < 12 ? 'AM' : 'PM'}`;
}

export const armErrors = {
  missingAuthorization(authority: string): ArmError {
    return new ArmError(401, 'AuthenticationFailed', "Authentication failed. The 'Authorization' header is missing.", {
      'WWW-Authenticate': `Bearer authorization_uri="${authority}", error="invalid_token", error_description="The authentication failed because of missing 'Authorization' header."`,
    });
  },
  invalidToken(authority: string, message = 'The access token is invalid.'): ArmError {
    return new ArmError(401, 'InvalidAuthenticationToken', message, {
      'WWW-Authenticate': `Bearer authorization_uri="${authority}", error="invalid_token", error_description="${message.replace(/"/g, "'")}"`,
    });
  },
  wrongAudience(authority: string, aud: string, allowed: string[]): ArmError {
    return armErrors.invalidToken(
      authority,
      `The access token has been obtained for wrong audience or resource '${aud}'. It should exactly match with one of the allowed audiences ${allowed.map((a) => `'${a}'`).join(',')}.`,
    );
  },
  expiredToken(authority: string, expMs: number, nowMs: number): ArmError {
    const message = `The access token expiry UTC time '${dotNetUtc(expMs)}' is earlier than current UTC time '${dotNetUtc(nowMs)}'.`;
    return new ArmError(401, 'ExpiredAuthenticationToken', message, {
      'WWW-Authenticate': `Bearer authorization_uri="${authority}", error="invalid_token", error_description="The access token has expired."`,
    });
  },
  wrongTenant(authority: string, tokenTenant: string, subTenant: string): ArmError {
    return new ArmError(
      401,
      'InvalidAuthenticationTokenTenant',
      `The access token is from the wrong issuer 'https://sts.windows.net/${tokenTenant}/'. It must match the tenant 'https://sts.windows.net/${subTenant}/' associated with this subscription. Please use the authority (URL) '${authority}${subTenant}' to get the token. Note, if the subscription is transferred to another tenant there is no impact to the services, but information about new tenant could take time to propagate (up to an hour). If you just transferred your subscription and see this error message, please try back later.`,
      {
        'WWW-Authenticate': `Bearer authorization_uri="${authority}${subTenant}", error="invalid_token", error_description="The access token is from the wrong issuer."`,
      },
    );
  },
  missingApiVersion(): ArmError {
    return new ArmError(400, 'MissingApiVersionParameter', 'The api-version query parameter (?api-version=) is required for all requests.');
  },
  invalidApiVersion(version: string, supported: string[], locations: string[]): ArmError {
    return new ArmError(
      400,
      'InvalidApiVersionParameter',
      `The api-version '${version}' is invalid. The supported versions are '${supported.join(',')}'. The supported locations are '${locations.join(', ')}'.`,
    );
  },
  subscriptionNotFound(sub: string): ArmError {
    return new ArmError(404, 'SubscriptionNotFound', `The subscription '${sub}' could not be found.`);
  },
  resourceGroupNotFound(rg: string): ArmError {
    return new ArmError(404, 'ResourceGroupNotFound', `Resource group '${rg}' could not be found.`);
  },
  /** `type` is the full type with the resource names interleaved, e.g. Microsoft.MachineLearningServices/workspaces/ws/computes. */
  resourceNotFound(type: string, name: string, rg: string): ArmError {
    return new ArmError(
      404,
      'ResourceNotFound',
      `The Resource '${type}/${name}' under resource group '${rg}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`,
    );
  },
  authorizationFailed(appId: string, objectId: string, action: string, scope: string): ArmError {
    return new ArmError(
      403,
      'AuthorizationFailed',
      `The client '${appId}' with object id '${objectId}' does not have authorization to perform action '${action}' over scope '${scope}' or the scope is invalid. If access was recently granted, please refresh your credentials.`,
    );
  },
  invalidResourceType(type: string, ns: string, apiVersion: string): ArmError {
    return new ArmError(
      404,
      'InvalidResourceType',
      `The resource type '${type}' could not be found in the namespace '${ns}' for api version '${apiVersion}'.`,
    );
  },
  invalidResourceNamespace(ns: string): ArmError {
    return new ArmError(400, 'InvalidResourceNamespace', `The resource namespace '${ns}' is invalid.`);
  },
  methodNotAllowed(method: string): ArmError {
    return new ArmError(405, 'HttpMethodNotSupported', `The requested resource does not support http method '${method}'.`);
  },
  invalidRequestContent(detail: string): ArmError {
    return new ArmError(400, 'InvalidRequestContent', `The request content was invalid and could not be deserialized: '${detail}'.`);
  },
};
