/**
 * The token verifier against real tokens from the local OpenID provider: each
 * refusal code, key rotation and where groups come from.
 */
import { decodeJwt, decodeProtectedHeader, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TokenRefusalCode } from '../../lambdas/identity/contract.js';
import { claimGroups, identityStoreGroups } from '../../lambdas/identity/groups.js';
import { createTokenVerifier, type TokenVerifierConfig } from '../../lambdas/identity/token-verifier.js';
import { directoryPeople, type LocalIdp, startLocalIdp } from '../../sandbox/idp.js';
import { type HeadlessTokens, signInHeadless, signInWithDevice } from '../../sandbox/idp-sign-in.js';
import { type FakeIdentityStore, startFakeIdentityStore } from './fake-identity-store.js';

const REDIRECT = 'http://127.0.0.1:9/callback';
let idp: LocalIdp;
let other: LocalIdp;
let alice: HeadlessTokens;

const configOf = (provider: LocalIdp): TokenVerifierConfig => ({
  issuer: provider.issuer,
  clientId: provider.web.clientId,
  apiAudience: provider.apiAudience,
  clockToleranceSeconds: 60,
});

async function refusal(promise: Promise<unknown>): Promise<{ code: TokenRefusalCode; message: string }> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, 'the token was accepted').toBeDefined();
  expect((error as Error).name).toBe('TokenRefused');
  return error as { code: TokenRefusalCode; message: string };
}

beforeAll(async () => {
  idp = await startLocalIdp({
    redirectUris: [REDIRECT],
    people: [
      ...directoryPeople(),
      {
        subject: 'sandbox-unverified',
        email: 'ivan@example.com',
        emailVerified: false,
        name: 'Ivan',
        groups: [],
      },
    ],
  });
  other = await startLocalIdp({ redirectUris: [REDIRECT] });
  alice = await signInHeadless(idp, { person: 'alice@example.com', mfa: true });
});
afterAll(async () => {
  await idp.close();
  await other.close();
});

describe('a valid sign-in', () => {
  it('an ID token yields the person, their groups and how they signed in', async () => {
    const signIn = await createTokenVerifier(configOf(idp)).verifyIdToken(alice.idToken, {
      nonce: alice.nonce,
    });
    expect(signIn).toEqual({
      issuer: idp.issuer,
      subject: 'sandbox-alice',
      email: 'alice@example.com',
      emailVerified: true,
      name: 'Alice Adams',
      groups: ['security-approvers', 'security-leads'],
      amr: ['pwd', 'mfa'],
      acr: 'urn:countersign:sandbox:mfa',
      authTime: expect.any(Number),
      via: 'session',
    });
  });

  it('an API access token yields the same person, as a bearer', async () => {
    expect(decodeJwt(alice.accessToken).aud).toBe(idp.apiAudience);
    const signIn = await createTokenVerifier(configOf(idp)).verifyAccessToken(alice.accessToken);
    expect(signIn).toMatchObject({
      subject: 'sandbox-alice',
      email: 'alice@example.com',
      amr: ['pwd', 'mfa'],
      via: 'bearer',
    });
  });

  it("the CLI's device authorization grant (public client) yields an API token for the person", async () => {
    const device = await signInWithDevice(idp, { person: 'grace@example.com', mfa: true });
    expect(decodeJwt(device.accessToken)).toMatchObject({
      aud: idp.apiAudience,
      client_id: idp.cli.clientId,
    });
    const signIn = await createTokenVerifier(configOf(idp)).verifyAccessToken(device.accessToken);
    expect(signIn).toMatchObject({
      subject: 'sandbox-grace',
      email: 'grace@example.com',
      amr: ['pwd', 'mfa'],
      via: 'bearer',
    });
  });

  it('a one-factor sign-in says so in amr', async () => {
    const bob = await signInHeadless(idp, { person: 'bob@example.com' });
    const signIn = await createTokenVerifier(configOf(idp)).verifyIdToken(bob.idToken, { nonce: bob.nonce });
    expect(signIn).toMatchObject({
      email: 'bob@example.com',
      amr: ['pwd'],
      groups: ['security-approvers', 'platform-oncall'],
    });
  });
});

describe('each refusal', () => {
  it('no token, or not a JWT: missing, malformed', async () => {
    const verifier = createTokenVerifier(configOf(idp));
    expect((await refusal(verifier.verifyAccessToken(''))).code).toBe('missing');
    expect((await refusal(verifier.verifyAccessToken('not.a.jwt'))).code).toBe('malformed');
  });

  it('signed by another key under a kid the IdP does not publish: unknown-key', async () => {
    const { privateKey } = await generateKeyPair('RS256');
    const forged = await new SignJWT(decodeJwt(alice.accessToken))
      .setProtectedHeader({ alg: 'RS256', kid: 'attacker-key' })
      .sign(privateKey);
    const out = await refusal(
      createTokenVerifier(configOf(idp), { jwksCooldownMs: 0 }).verifyAccessToken(forged),
    );
    expect(out.code).toBe('unknown-key');
  });

  it("signed by another key under the IdP's own kid: bad-signature", async () => {
    const { privateKey } = await generateKeyPair('RS256');
    const forged = await new SignJWT({
      ...decodeJwt(alice.accessToken),
      sub: 'sandbox-grace',
      email: 'grace@example.com',
    })
      .setProtectedHeader({ alg: 'RS256', kid: decodeProtectedHeader(alice.accessToken).kid! })
      .sign(privateKey);
    expect((await refusal(createTokenVerifier(configOf(idp)).verifyAccessToken(forged))).code).toBe(
      'bad-signature',
    );
  });

  it('unsigned (alg none) or HMAC-signed with the public key: malformed, never accepted', async () => {
    const verifier = createTokenVerifier(configOf(idp));
    const [header, payload] = alice.accessToken.split('.');
    void header;
    const none = `${Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url')}.${payload}.`;
    expect((await refusal(verifier.verifyAccessToken(none))).code).toBe('malformed');
    const jwks = (await (await fetch(`${idp.issuer}/jwks`)).json()) as { keys: { n: string }[] };
    const hmac = await new SignJWT(decodeJwt(alice.accessToken))
      .setProtectedHeader({ alg: 'HS256', kid: decodeProtectedHeader(alice.accessToken).kid! })
      .sign(new TextEncoder().encode(jwks.keys[0]!.n));
    expect((await refusal(verifier.verifyAccessToken(hmac))).code).toBe('malformed');
  });

  it('a real token from another issuer: wrong-issuer', async () => {
    const foreign = await signInHeadless(other, { person: 'alice@example.com', mfa: true });
    const verifier = createTokenVerifier(configOf(idp));
    const out = await refusal(verifier.verifyAccessToken(foreign.accessToken));
    expect(out.code).toBe('wrong-issuer');
    expect(out.message).toContain(other.issuer);
  });

  it('an ID token presented to the API, an access token as an ID token: wrong-audience', async () => {
    const verifier = createTokenVerifier(configOf(idp));
    expect((await refusal(verifier.verifyAccessToken(alice.idToken))).code).toBe('wrong-audience');
    expect((await refusal(verifier.verifyIdToken(alice.accessToken, { nonce: alice.nonce }))).code).toBe(
      'wrong-audience',
    );
    const noApi = createTokenVerifier({ ...configOf(idp), apiAudience: undefined });
    expect((await refusal(noApi.verifyAccessToken(alice.accessToken))).code).toBe('wrong-audience');
  });

  it('past exp beyond the clock tolerance: expired; within it: accepted', async () => {
    const exp = decodeJwt(alice.accessToken).exp!;
    const at = (seconds: number) => () => new Date(seconds * 1000);
    const late = createTokenVerifier(configOf(idp), { now: at(exp + 61) });
    expect((await refusal(late.verifyAccessToken(alice.accessToken))).code).toBe('expired');
    const skewed = createTokenVerifier(configOf(idp), { now: at(exp + 59) });
    await expect(skewed.verifyAccessToken(alice.accessToken)).resolves.toMatchObject({
      subject: 'sandbox-alice',
    });
  });

  it('issued in the future beyond the clock tolerance: not-yet-valid', async () => {
    const iat = decodeJwt(alice.accessToken).iat!;
    const early = createTokenVerifier(configOf(idp), { now: () => new Date((iat - 120) * 1000) });
    expect((await refusal(early.verifyAccessToken(alice.accessToken))).code).toBe('not-yet-valid');
  });

  it("an ID token from another sign-in's nonce, or with none expected: wrong-nonce", async () => {
    const verifier = createTokenVerifier(configOf(idp));
    expect((await refusal(verifier.verifyIdToken(alice.idToken, { nonce: 'another-sign-in' }))).code).toBe(
      'wrong-nonce',
    );
    expect((await refusal(verifier.verifyIdToken(alice.idToken, { nonce: '' }))).code).toBe('wrong-nonce');
  });

  it('a person without an email: missing-claim; with an unverified email: unverified-email', async () => {
    const verifier = createTokenVerifier(configOf(idp));
    const noEmail = await signInHeadless(idp, { person: 'sandbox-noemail' });
    expect((await refusal(verifier.verifyAccessToken(noEmail.accessToken))).code).toBe('missing-claim');
    const unverified = await signInHeadless(idp, { person: 'sandbox-unverified' });
    const out = await refusal(verifier.verifyIdToken(unverified.idToken, { nonce: unverified.nonce }));
    expect(out.code).toBe('unverified-email');
  });

  it('an IdP that cannot be reached: unavailable, and the next token tries again', async () => {
    const verifier = createTokenVerifier({ ...configOf(idp), issuer: 'http://127.0.0.1:1' });
    const token = await new SignJWT({ sub: 'x' })
      .setProtectedHeader({ alg: 'RS256' })
      .setIssuer('http://127.0.0.1:1')
      .sign((await generateKeyPair('RS256')).privateKey);
    expect((await refusal(verifier.verifyAccessToken(token))).code).toBe('unavailable');
    expect((await refusal(verifier.verifyAccessToken(token))).code).toBe('unavailable');
  });
});

describe('key rotation', () => {
  it('a token under a newly published kid refetches the key set and verifies', async () => {
    const rotating = await startLocalIdp({ redirectUris: [REDIRECT] });
    try {
      const verifier = createTokenVerifier(configOf(rotating), { jwksCooldownMs: 0 });
      const before = await signInHeadless(rotating, { person: 'carol@example.com' });
      await verifier.verifyAccessToken(before.accessToken);
      const kid = await rotating.rotateKeys();
      const after = await signInHeadless(rotating, { person: 'carol@example.com' });
      expect(decodeProtectedHeader(after.accessToken).kid).toBe(kid);
      expect(kid).not.toBe(decodeProtectedHeader(before.accessToken).kid);
      await expect(verifier.verifyAccessToken(after.accessToken)).resolves.toMatchObject({
        subject: 'sandbox-carol',
      });
      // The old key stays published: tokens issued before the rotation still verify.
      await expect(verifier.verifyAccessToken(before.accessToken)).resolves.toMatchObject({
        subject: 'sandbox-carol',
      });
    } finally {
      await rotating.close();
    }
  });

  it('within the refetch cooldown an unknown kid is refused, not fetched again', async () => {
    const rotating = await startLocalIdp({ redirectUris: [REDIRECT] });
    try {
      const verifier = createTokenVerifier(configOf(rotating), { jwksCooldownMs: 60_000 });
      await verifier.verifyAccessToken(
        (await signInHeadless(rotating, { person: 'carol@example.com' })).accessToken,
      );
      await rotating.rotateKeys();
      const after = await signInHeadless(rotating, { person: 'carol@example.com' });
      expect((await refusal(verifier.verifyAccessToken(after.accessToken))).code).toBe('unknown-key');
    } finally {
      await rotating.close();
    }
  });
});

describe('groups', () => {
  it('from a configured claim; a claim the IdP does not send is no group at all', async () => {
    const byRoles = createTokenVerifier({ ...configOf(idp), groupsClaim: 'roles' });
    expect((await byRoles.verifyAccessToken(alice.accessToken)).groups).toEqual([]);
    const byGroups = createTokenVerifier({ ...configOf(idp), groupsClaim: 'groups' });
    expect((await byGroups.verifyAccessToken(alice.accessToken)).groups).toEqual([
      'security-approvers',
      'security-leads',
    ]);
  });

  it('a groups claim that is not a list of names is refused, not guessed at', async () => {
    const source = claimGroups('groups');
    const base = { issuer: 'i', subject: 's', email: 'a@example.com' };
    await expect(source.groupsOf({ ...base, claims: { groups: 'one' } })).resolves.toEqual(['one']);
    await expect(source.groupsOf({ ...base, claims: { groups: [{ admin: true }] } })).rejects.toMatchObject({
      code: 'malformed',
    });
  });

  describe('from the IAM Identity Center identity store', () => {
    const STORE = 'd-1234567890';
    let store: FakeIdentityStore;
    beforeAll(async () => {
      store = await startFakeIdentityStore(
        STORE,
        [
          {
            userId: 'u-alice',
            email: 'alice@example.com',
            externalIds: [{ issuer: 'placeholder', id: 'sandbox-alice' }],
            groupIds: ['g-1', 'g-2', 'g-3', 'g-gone'],
          },
        ],
        { 'g-1': 'security-approvers', 'g-2': 'prod-approvers', 'g-3': 'security-leads' },
      );
      store.calls.length = 0;
    });
    afterAll(() => store.close());

    it('by email: every page of memberships, by display name; the claim is ignored', async () => {
      const verifier = createTokenVerifier(configOf(idp), {
        groups: identityStoreGroups(store.client, { identityStoreId: STORE, match: 'email' }),
      });
      const signIn = await verifier.verifyAccessToken(alice.accessToken);
      expect(signIn.groups.sort()).toEqual(['prod-approvers', 'security-approvers', 'security-leads']);
      expect(store.calls.filter((c) => c.operation === 'ListGroupMembershipsForMember')).toHaveLength(2);
      expect(store.calls[0]).toMatchObject({
        operation: 'GetUserId',
        input: {
          AlternateIdentifier: {
            UniqueAttribute: { AttributePath: 'emails.value', AttributeValue: 'alice@example.com' },
          },
        },
      });
    });

    it('by externalId: the issuer and subject of the token', async () => {
      const source = identityStoreGroups(store.client, { identityStoreId: STORE, match: 'externalId' });
      const groups = await source.groupsOf({
        issuer: 'placeholder',
        subject: 'sandbox-alice',
        email: 'x@example.com',
        claims: {},
      });
      expect(groups).toContain('security-approvers');
      await expect(
        source.groupsOf({
          issuer: idp.issuer,
          subject: 'sandbox-alice',
          email: 'alice@example.com',
          claims: {},
        }),
      ).resolves.toEqual([]);
    });

    it('a person the store does not hold is in no group; a store that is down refuses', async () => {
      const source = identityStoreGroups(store.client, { identityStoreId: STORE, match: 'email' });
      const dave = {
        issuer: idp.issuer,
        subject: 'sandbox-dave',
        email: 'dave@example.com',
        claims: { groups: ['security-leads'] },
      };
      await expect(source.groupsOf(dave)).resolves.toEqual([]);
      store.failing = true;
      try {
        await expect(source.groupsOf(dave)).rejects.toMatchObject({
          name: 'TokenRefused',
          code: 'unavailable',
        });
      } finally {
        store.failing = false;
      }
    });
  });
});
