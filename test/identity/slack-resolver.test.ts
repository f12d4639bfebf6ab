/**
 * Slack identity resolution against the fake Slack Web API: which ids are
 * looked up at all, the reason each unresolved user is given (it reaches the
 * card and the audit trail), who counts as an agent, the name shown, group
 * membership and its failures, and how long a lookup is reused. Profile shapes
 * the fake does not produce (an app user, a profile without a real name) are
 * made by rewriting the fake's own `users.info` answer.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  createIdentityResolver,
  IDENTITY_TTL_MS,
  type IdentitySlack,
} from '../../lambdas/shared/identity.js';
import { createSlackClient } from '../../lambdas/shared/slack.js';
import { FAKE_SLACK_TOKEN, type RunningFakeSlack, startFakeSlack } from '../../sandbox/fake-slack.js';

let slack: RunningFakeSlack;
beforeAll(async () => {
  slack = await startFakeSlack({
    directory: {
      users: [
        { id: 'U0ANN0001', name: 'ann', realName: 'Ann Archer', email: 'ann@example.com' },
        { id: 'W0ENT0001', name: 'ent', realName: 'Enterprise Ed', email: 'ed@example.com' },
        { id: 'USLACKBOT', name: 'slackbot', email: 'bot@slack.example' },
        { id: 'U0BLANK01', name: 'blank', email: '   ' },
        { id: 'U0BOT0001', name: 'deploy-bot', isBot: true },
      ],
      groups: [
        { id: 'S0SRE', handle: 'sre', name: 'SRE', users: ['U0ANN0001'] },
        { id: 'S0SEC', handle: 'security', name: 'Security', users: ['W0ENT0001'] },
      ],
    },
  });
});
afterAll(() => slack.close());
beforeEach(() => slack.reset());

const client = () => createSlackClient(FAKE_SLACK_TOKEN, slack.url);
const countOf = (method: string) => slack.calls.filter((c) => c.method === method).length;

/** The fake's client with each `users.info` user rewritten. */
function rewriting(change: (user: Record<string, unknown>) => Record<string, unknown>): IdentitySlack {
  const real = client();
  return {
    usergroups: real.usergroups,
    users: {
      ...real.users,
      info: async (args: Parameters<typeof real.users.info>[0]) => {
        const out = await real.users.info(args);
        return { ...out, user: change(out.user as Record<string, unknown>) };
      },
    },
  } as IdentitySlack;
}

describe('createIdentityResolver: what is looked up', () => {
  it.each([
    ['a lower-case id', 'u0ann0001'],
    ['an id with a space before it', ' U0ANN0001'],
    ['an id with a newline after it', 'U0ANN0001\n'],
    ['an id too short to be a user', 'U0'],
    ['a channel id', 'C0ANN0001'],
    ['a bot id', 'B0ANN0001'],
  ])('refuses %s without asking Slack', async (_name, id) => {
    // Act
    const identity = await createIdentityResolver(client()).resolve(id, []);

    // Assess
    expect(identity).toEqual({ kind: 'unresolved', slackUserId: id, reason: 'not a Slack user id' });
    expect(countOf('users.info')).toBe(0);
  });

  it('refuses an id that is not a string, naming it as text', async () => {
    // Act
    const identity = await createIdentityResolver(client()).resolve(42 as unknown as string, []);

    // Assess
    expect(identity).toEqual({ kind: 'unresolved', slackUserId: '42', reason: 'not a Slack user id' });
  });

  it('refuses an object whose text looks like a user id, without asking Slack', async () => {
    // Act
    const identity = await createIdentityResolver(client()).resolve(
      { toString: () => 'U0ANN0001' } as unknown as string,
      [],
    );

    // Assess
    expect(identity).toEqual({ kind: 'unresolved', slackUserId: 'U0ANN0001', reason: 'not a Slack user id' });
    expect(countOf('users.info')).toBe(0);
  });

  it('resolves an Enterprise Grid user (W…) like any other', async () => {
    // Act
    const identity = await createIdentityResolver(client()).resolve('W0ENT0001', ['security']);

    // Assess
    expect(identity).toEqual({
      kind: 'human',
      slackUserId: 'W0ENT0001',
      email: 'ed@example.com',
      name: 'ent',
      displayName: 'Enterprise Ed',
      groups: ['security'],
    });
  });
});

describe('createIdentityResolver: who is unresolved, and why', () => {
  it.each([
    ['an unknown user', 'U0NOBODY1', 'Slack user U0NOBODY1 does not exist'],
    ['a profile with a blank email', 'U0BLANK01', 'the Slack profile has no email visible to Countersign'],
  ])('%s', async (_name, id, reason) => {
    // Act
    const identity = await createIdentityResolver(client()).resolve(id, []);

    // Assess
    expect(identity).toEqual({ kind: 'unresolved', slackUserId: id, reason });
  });

  it('a Slack that fails says so', async () => {
    // Prepare
    slack.setFailure('users.info', 'internal_error');

    // Act
    const identity = await createIdentityResolver(client()).resolve('U0ANN0001', []);

    // Assess
    expect(identity).toMatchObject({
      kind: 'unresolved',
      reason: expect.stringMatching(/^Slack lookup failed: .*internal_error/),
    });
  });

  it('a lookup that fails without a Slack error says what failed', async () => {
    // Prepare
    const real = client();
    const broken = {
      usergroups: real.usergroups,
      users: {
        info: async () => {
          throw new Error('socket hang up');
        },
      },
    } as unknown as IdentitySlack;

    // Act
    const identity = await createIdentityResolver(broken).resolve('U0ANN0001', []);

    // Assess
    expect(identity).toEqual({
      kind: 'unresolved',
      slackUserId: 'U0ANN0001',
      reason: 'Slack lookup failed: socket hang up',
    });
  });

  it('a profile without any fields has no email', async () => {
    // Act
    const identity = await createIdentityResolver(rewriting((u) => ({ ...u, profile: undefined }))).resolve(
      'U0ANN0001',
      [],
    );

    // Assess
    expect(identity).toMatchObject({
      kind: 'unresolved',
      reason: 'the Slack profile has no email visible to Countersign',
    });
  });

  it('an answer without a user is no user', async () => {
    // Act
    const identity = await createIdentityResolver(rewriting(() => undefined as never)).resolve(
      'U0ANN0001',
      [],
    );

    // Assess
    expect(identity).toEqual({
      kind: 'unresolved',
      slackUserId: 'U0ANN0001',
      reason: 'Slack returned no user for U0ANN0001',
    });
  });

  it('a group lookup that fails leaves the user unresolved (no eligibility without membership)', async () => {
    // Prepare
    slack.setFailure('usergroups.users.list', 'internal_error');

    // Act
    const identity = await createIdentityResolver(client()).resolve('U0ANN0001', ['sre']);

    // Assess
    expect(identity).toMatchObject({
      kind: 'unresolved',
      slackUserId: 'U0ANN0001',
      reason: expect.stringMatching(/^group membership lookup failed: .*internal_error/),
    });
  });

  it('a failed group lookup is not reused: the next click asks again', async () => {
    // Prepare
    const resolver = createIdentityResolver(client());
    slack.setFailure('usergroups.list', 'internal_error');

    // Act
    const first = await resolver.resolve('U0ANN0001', ['sre']);
    const second = await resolver.resolve('U0ANN0001', ['sre']);

    // Assess
    expect(first.kind).toBe('unresolved');
    expect(second).toMatchObject({ kind: 'human', groups: ['sre'] });
  });
});

describe('createIdentityResolver: agents', () => {
  it.each([
    ['a bot user', client, 'U0BOT0001', 'deploy-bot'],
    ['an app user', () => rewriting((u) => ({ ...u, is_app_user: true })), 'U0ANN0001', 'ann'],
    ['Slackbot', client, 'USLACKBOT', 'slackbot'],
    [
      'a bot without a handle',
      () => rewriting((u) => ({ ...u, is_bot: true, name: undefined })),
      'U0ANN0001',
      'U0ANN0001',
    ],
  ])('%s is an agent, never a human', async (_name, make, id, name) => {
    // Act
    const identity = await createIdentityResolver(make()).resolve(id, ['sre']);

    // Assess
    expect(identity).toEqual({ kind: 'bot', slackUserId: id, name });
  });
});

describe('createIdentityResolver: the name shown', () => {
  it.each([
    ['the profile real name', (u: Record<string, unknown>) => u, 'Ann Archer'],
    [
      'the account real name when the profile has none',
      (u: Record<string, unknown>) => ({ ...u, real_name: 'Ann A.', profile: { email: 'ann@example.com' } }),
      'Ann A.',
    ],
    [
      'the handle when neither has one',
      (u: Record<string, unknown>) => ({
        ...u,
        real_name: '',
        profile: { email: 'ann@example.com', real_name: '' },
      }),
      'ann',
    ],
  ])('is %s', async (_name, change, displayName) => {
    // Act
    const identity = await createIdentityResolver(rewriting(change)).resolve('U0ANN0001', []);

    // Assess
    expect(identity).toMatchObject({ kind: 'human', name: 'ann', displayName });
  });
});

describe('createIdentityResolver: groups', () => {
  it('reports only the asked-about groups the user is in, ignoring handles Slack does not know', async () => {
    // Act
    const identity = await createIdentityResolver(client()).resolve('U0ANN0001', [
      'security',
      'sre',
      'ghosts',
    ]);

    // Assess
    expect(identity).toMatchObject({ kind: 'human', groups: ['sre'] });
    expect(countOf('usergroups.users.list')).toBe(2);
  });

  it('asks Slack for enabled groups only: a disabled group grants nothing', async () => {
    // Act
    await createIdentityResolver(client()).resolve('U0ANN0001', ['sre']);

    // Assess
    const listed = slack.calls.find((c) => c.method === 'usergroups.list') as unknown as {
      params?: Record<string, unknown>;
      args?: Record<string, unknown>;
    };
    expect(JSON.stringify(listed)).toMatch(/"include_disabled":(false|"false")/);
  });

  it('asks Slack about no group when none is asked about', async () => {
    // Act
    const identity = await createIdentityResolver(client()).resolve('U0ANN0001', []);

    // Assess
    expect(identity).toMatchObject({ kind: 'human', groups: [] });
    expect(countOf('usergroups.list') + countOf('usergroups.users.list')).toBe(0);
  });
});

describe('createIdentityResolver: reuse', () => {
  it(`reuses a lookup for ${IDENTITY_TTL_MS} ms by default, and looks again once that has passed`, async () => {
    // Prepare
    let now = 5_000_000;
    const resolver = createIdentityResolver(client(), { now: () => now });
    await resolver.resolve('U0ANN0001', ['sre']);

    // Act
    now += IDENTITY_TTL_MS - 1;
    await resolver.resolve('U0ANN0001', ['sre']);
    const justBefore = [countOf('users.info'), countOf('usergroups.list'), countOf('usergroups.users.list')];
    now += 1;
    await resolver.resolve('U0ANN0001', ['sre']);

    // Assess
    expect(IDENTITY_TTL_MS).toBe(60_000);
    expect(justBefore).toEqual([1, 1, 1]);
    expect([countOf('users.info'), countOf('usergroups.list'), countOf('usergroups.users.list')]).toEqual([
      2, 2, 2,
    ]);
  });

  it('reuses each lookup from when it was made, not from when it was last read', async () => {
    // Prepare
    let now = 9_000_000;
    const resolver = createIdentityResolver(client(), { ttlMs: 1000, now: () => now });
    await resolver.resolve('U0ANN0001', []);

    // Act
    now += 600;
    await resolver.resolve('U0ANN0001', []);
    now += 600;
    await resolver.resolve('U0ANN0001', []);

    // Assess
    expect(countOf('users.info')).toBe(2);
  });
});
