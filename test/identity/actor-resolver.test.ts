/**
 * Who acts, on the resolvers themselves: a web or API actor is the person of
 * the sign-in its channel verified (right issuer, verified and acceptable
 * email, the IdP's groups), never anything else; a Slack user counts only
 * when the company IdP's directory (a wire-compatible identity store on
 * 127.0.0.1) holds their email. Everything else is unresolved, with a reason.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  channelResolver,
  identityStoreDirectory,
  linkedSlackResolver,
  signInResolver,
} from '../../lambdas/identity/actor-resolver.js';
import type { SignIn } from '../../lambdas/identity/contract.js';
import type { ChannelActor } from '../../lambdas/review-core/contract.js';
import type { HumanIdentity, IdentityResolver, ResolvedIdentity } from '../../lambdas/shared/identity.js';
import { type FakeIdentityStore, startFakeIdentityStore } from './fake-identity-store.js';

const ISSUER = 'https://idp.example.com';

function signIn(overrides: Partial<SignIn> = {}): SignIn {
  return {
    issuer: ISSUER,
    subject: 'sub-alice',
    email: 'alice@example.com',
    emailVerified: true,
    name: 'Alice Adams',
    groups: ['security-approvers', 'platform-oncall'],
    amr: ['pwd', 'mfa'],
    via: 'session',
    ...overrides,
  };
}

const actor = (overrides: Partial<ChannelActor> = {}): ChannelActor => ({
  channel: 'web',
  userId: 'web:sub-alice',
  signIn: signIn(),
  ...overrides,
});

describe('signInResolver', () => {
  const resolve = signInResolver({ issuer: ISSUER });

  it.each(['web', 'api'])(
    'resolves a %s actor to the signed-in person with the asked-about groups they hold',
    async (channel) => {
      // Act
      const identity = await resolve(actor({ channel, signIn: signIn({ email: 'Alice+Web@Example.com' }) }), [
        'platform-oncall',
        'security-leads',
      ]);

      // Assess
      expect(identity).toEqual({
        kind: 'human',
        slackUserId: 'web:sub-alice',
        email: 'alice@example.com',
        name: 'Alice Adams',
        displayName: 'Alice Adams',
        groups: ['platform-oncall'],
      });
    },
  );

  it.each([
    ['no name', undefined],
    ['a blank name', '   '],
  ])('names a person with %s by their email', async (_what, name) => {
    // Act
    const identity = await resolve(actor({ signIn: { ...signIn(), name } }), []);

    // Assess
    expect(identity).toMatchObject({
      kind: 'human',
      name: 'alice@example.com',
      displayName: 'alice@example.com',
    });
  });

  it('trims the name the IdP sent', async () => {
    // Act
    const identity = await resolve(actor({ signIn: signIn({ name: '  Alice  ' }) }), []);

    // Assess
    expect(identity).toMatchObject({ name: 'Alice', displayName: 'Alice' });
  });

  it.each([
    [
      'a chat channel, whatever sign-in it carries',
      actor({ channel: 'slack' }),
      'the slack channel has no sign-in',
    ],
    ['no sign-in', actor({ signIn: undefined }), 'you are not signed in'],
    [
      'a sign-in from another issuer',
      actor({ signIn: signIn({ issuer: 'https://evil.example.com' }) }),
      "your sign-in is from https://evil.example.com, not from this deployment's IdP",
    ],
    [
      'an email the IdP has not verified',
      actor({ signIn: signIn({ emailVerified: false }) }),
      'the IdP has not verified your email',
    ],
  ])('leaves %s unresolved', async (_what, who, reason) => {
    // Act
    const identity = await resolve(who, ['security-approvers']);

    // Assess
    expect(identity).toEqual({ kind: 'unresolved', slackUserId: who.userId, reason });
  });

  it('leaves a lookalike email unresolved', async () => {
    // Act
    const identity = await resolve(actor({ signIn: signIn({ email: 'c\u0430rol@example.com' }) }), []);

    // Assess
    expect(identity).toMatchObject({ kind: 'unresolved', reason: expect.stringMatching(/^your email /) });
  });
});

describe('channelResolver', () => {
  const human: ResolvedIdentity = {
    kind: 'human',
    slackUserId: 'U1',
    email: 'a@example.com',
    name: 'a',
    displayName: 'a',
    groups: [],
  };

  it("routes an actor to its channel's resolver with the group handles", async () => {
    // Prepare
    const asked: [string, readonly string[]][] = [];
    const resolve = channelResolver({
      web: async (who, groups) => {
        asked.push([who.channel, groups]);
        return human;
      },
    });

    // Act
    const identity = await resolve(actor(), ['sre']);

    // Assess
    expect(identity).toBe(human);
    expect(asked).toEqual([['web', ['sre']]]);
  });

  it.each(['teams', 'toString', '__proto__'])(
    'leaves an actor of channel "%s" it has no route for unresolved',
    async (channel) => {
      // Act
      const identity = await channelResolver({ web: async () => human })(actor({ channel }), []);

      // Assess
      expect(identity).toEqual({
        kind: 'unresolved',
        slackUserId: 'web:sub-alice',
        reason: `no resolver for ${channel}`,
      });
    },
  );
});

describe('identityStoreDirectory and linkedSlackResolver', () => {
  let store: FakeIdentityStore;
  beforeAll(async () => {
    store = await startFakeIdentityStore(
      'd-1234567890',
      [
        { userId: 'u-alice', email: 'alice@example.com', groupIds: ['g-sec', 'g-oncall'] },
        { userId: 'u-bob', email: 'bob@example.com', groupIds: [] },
      ],
      { 'g-sec': 'security-approvers', 'g-oncall': 'platform-oncall' },
    );
  });
  afterAll(async () => {
    await store.close();
  });

  const directory = () =>
    identityStoreDirectory(store.client, { identityStoreId: 'd-1234567890', name: 'the company IdP' });

  /** A Slack resolver that answers what it is given, recording the groups asked about. */
  function slackAnswering(identity: ResolvedIdentity) {
    const asked: (readonly string[])[] = [];
    const resolver: IdentityResolver = {
      async resolve(_id, groups) {
        asked.push(groups);
        return identity;
      },
    };
    return { resolver, asked };
  }
  const slackHuman = (email: string, groups: string[] = []): HumanIdentity => ({
    kind: 'human',
    slackUserId: 'U0ALICE01',
    email,
    name: 'alice',
    displayName: 'Alice',
    groups,
  });

  it('finds a person by email with their group names, and no one for an unknown email', async () => {
    // Act
    const alice = await directory().findByEmail('alice@example.com');
    const nobody = await directory().findByEmail('nobody@example.com');

    // Assess
    expect(alice?.groups.sort()).toEqual(['platform-oncall', 'security-approvers']);
    expect(nobody).toBeUndefined();
    expect(directory().name).toBe('the company IdP');
  });

  it("resolves a Slack user the IdP holds with the IdP's groups, not Slack's", async () => {
    // Prepare: Slack says she is in security-leads; the IdP says security-approvers and platform-oncall.
    const slack = slackAnswering(slackHuman('alice@example.com', ['security-leads']));

    // Act
    const identity = await linkedSlackResolver(slack.resolver, directory()).resolve('U0ALICE01', [
      'security-approvers',
      'security-leads',
    ]);

    // Assess
    expect(identity).toEqual(slackHuman('alice@example.com', ['security-approvers']));
    expect(slack.asked).toEqual([['security-approvers', 'security-leads']]);
  });

  it('leaves a Slack user the IdP does not hold unresolved, naming the IdP', async () => {
    // Act
    const identity = await linkedSlackResolver(
      slackAnswering(slackHuman('mallory@example.com')).resolver,
      directory(),
    ).resolve('U0ALICE01', []);

    // Assess
    expect(identity).toEqual({
      kind: 'unresolved',
      slackUserId: 'U0ALICE01',
      reason:
        'your Slack email mallory@example.com has no identity at the company IdP; approvers must be people of the company IdP',
    });
  });

  it('leaves everyone unresolved while the directory cannot answer', async () => {
    // Prepare
    store.failing = true;

    // Act
    const identity = await linkedSlackResolver(
      slackAnswering(slackHuman('alice@example.com')).resolver,
      directory(),
    ).resolve('U0ALICE01', []);
    store.failing = false;

    // Assess
    expect(identity).toMatchObject({
      kind: 'unresolved',
      slackUserId: 'U0ALICE01',
      reason: expect.stringMatching(/^the IdP directory could not be asked about your Slack email: ./),
    });
  });

  it.each([
    ['a bot', { kind: 'bot', slackUserId: 'B1', name: 'deploy-bot' }],
    ['an unresolved user', { kind: 'unresolved', slackUserId: 'U9', reason: 'deactivated' }],
  ] as const)('passes %s through without asking the directory', async (_what, identity) => {
    // Prepare
    const before = store.calls.length;

    // Act
    const resolved = await linkedSlackResolver(slackAnswering(identity).resolver, directory()).resolve(
      'U1',
      [],
    );

    // Assess
    expect(resolved).toEqual(identity);
    expect(store.calls.length).toBe(before);
  });
});
