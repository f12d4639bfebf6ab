/** The IdP configuration: validated at synth with the offending key named; the secret only by reference. */
import { describe, expect, it } from 'vitest';
import { IDENTITY_PROVIDER_ENV, identityProviderFromEnv } from '../../lambdas/identity/config.js';
import { loadConfig } from '../../lib/config.js';

const BASE = { slackChannelId: 'C0APPROVAL', approverGroupHandle: 'security-approvers' };

describe('countersign.identityProvider', () => {
  it('a full configuration is accepted with its defaults filled in', () => {
    const config = loadConfig({
      ...BASE,
      identityProvider: {
        issuer: 'https://example.okta.com',
        clientId: '0oa1countersign',
        clientSecretId: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:countersign/oidc-AbCdEf',
        apiAudience: 'api://countersign',
      },
      webInboxUrl: 'https://countersign.example.com/',
    });
    expect(config.identityProvider).toEqual({
      issuer: 'https://example.okta.com',
      clientId: '0oa1countersign',
      clientSecretId: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:countersign/oidc-AbCdEf',
      apiAudience: 'api://countersign',
      groupsClaim: 'groups',
      identityStoreMatch: 'email',
      clockToleranceSeconds: 60,
    });
    expect(config.webInboxUrl).toBe('https://countersign.example.com');
  });

  it('is optional: without it nobody signs in', () => {
    expect(loadConfig(BASE).identityProvider).toBeUndefined();
  });

  it.each([
    [{ issuer: 'http://idp.example.com', clientId: 'c' }, /identityProvider\.issuer: must be an https URL/],
    [
      { issuer: 'https://idp.example.com', clientId: 'c', clientSecret: 's3cr3t' },
      /unknown key\(s\) clientSecret/,
    ],
    [
      { issuer: 'https://idp.example.com', clientId: 'c', clientSecretId: 'has spaces in it' },
      /clientSecretId: must be a Secrets Manager secret ARN or name/,
    ],
    [
      { issuer: 'https://idp.example.com', clientId: 'c', clockToleranceSeconds: 3600 },
      /clockToleranceSeconds: must be an integer number of seconds from 0 to 300/,
    ],
    [
      { issuer: 'https://idp.example.com', clientId: 'c', identityStoreId: 'store' },
      /identityStoreId: must be an identity store id/,
    ],
    [
      { issuer: 'https://idp.example.com' },
      /identityProvider\.clientId: is required|identityProvider\.clientId/,
    ],
  ])('%j is refused, naming the key', (identityProvider, message) => {
    expect(() => loadConfig({ ...BASE, identityProvider })).toThrow(message);
  });

  it('webInboxUrl must be https', () => {
    expect(() => loadConfig({ ...BASE, webInboxUrl: 'http://inbox.example.com' })).toThrow(
      /webInboxUrl: must be an https URL/,
    );
  });

  it('a flat -c override given as JSON is parsed', () => {
    const config = loadConfig(BASE, {
      identityProvider: '{"issuer":"https://login.example.com","clientId":"c"}',
    });
    expect(config.identityProvider?.issuer).toBe('https://login.example.com');
  });

  it('functions read it from their environment, and refuse a broken one by name', () => {
    expect(identityProviderFromEnv({})).toBeUndefined();
    expect(
      identityProviderFromEnv({
        [IDENTITY_PROVIDER_ENV]: JSON.stringify({ issuer: 'http://127.0.0.1:4011', clientId: 'web' }),
      }),
    ).toMatchObject({ issuer: 'http://127.0.0.1:4011', clockToleranceSeconds: 60 });
    expect(() => identityProviderFromEnv({ [IDENTITY_PROVIDER_ENV]: '{"issuer":1}' })).toThrow(
      /COUNTERSIGN_IDENTITY_PROVIDER\.issuer/,
    );
  });
});
