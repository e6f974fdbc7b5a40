import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RestError } from '@azure/core-rest-pipeline';
import { translateAzureError, UserError } from '../../tasks/common/errors';

test('AuthorizationFailed names the action, scope and a role to grant', () => {
  const e = new RestError(
    "The client 'app' with object id 'oid' does not have authorization to perform action 'Microsoft.MachineLearningServices/workspaces/jobs/write' over scope '/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws' or the scope is invalid.",
    { statusCode: 403, code: 'AuthorizationFailed' },
  );
  const t = translateAzureError(e, { action: 'submit the job', connection: 'prod' });
  assert.ok(t instanceof UserError);
  assert.match(t.message, /lacks permission for 'Microsoft.MachineLearningServices\/workspaces\/jobs\/write'/);
  assert.match(t.message, /AzureML Data Scientist or Contributor/);
  assert.match(t.message, /--scope \/subscriptions\/s\/resourceGroups\/rg/);
});

test('AADSTS7000215 says the secret is wrong', () => {
  const e = Object.assign(new Error('ClientSecretCredential authentication failed: AADSTS7000215: Invalid client secret provided.'), {
    name: 'AuthenticationError',
  });
  assert.match(translateAzureError(e, { action: 'sign in', connection: 'prod' }).message, /AADSTS7000215: the client secret is wrong/);
});

test('a private-link 403 points at the DNS check', () => {
  const e = new RestError(
    'Public network access is disabled; the workspace is not accessible from outside of the designated private link.',
    { statusCode: 403, code: 'Forbidden' },
  );
  assert.match(translateAzureError(e, { action: 'read the job' }).message, /AmlPrivateLinkCheck@1/);
});

test('unknown errors pass through unchanged', () => {
  const e = new TypeError('boom');
  assert.equal(translateAzureError(e, { action: 'x' }), e);
});
