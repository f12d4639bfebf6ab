/** Identity resolution against the fake Slack: what is resolved, what is refused, what is cached. */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createIdentityResolver, identityResolverFor } from '../../lambdas/shared/identity.js';
import { createSlackClient } from '../../lambdas/shared/slack.js';
import {
  FAKE_SLACK_TOKEN,
  loadDirectory,
  type RunningFakeSlack,
  startFakeSlack,
} from '../../sandbox/fake-slack.js';

let slack: RunningFakeSlack;
beforeAll(async () => {
  slack = await startFakeSlack({ directory: loadDirectory() });
});
afterAll(async () => {
  await slack.close();
});
beforeEach(() => {
  slack.reset();
});

const client = () => createSlackClient(FAKE_SLACK_TOKEN, slack.url);
const countOf = (method: string) => slack.calls.filter((c) => c.method === method).length;

describe('createIdentityResolver', () => {
  it('resolves a human to a lower-cased email and the asked-about groups they are in', async () => {
    // Prepare
    const resolver = createIdentityResolver(client());

    // Act
    const alice = await resolver.resolve('U0ALICE01', [
      'security-approvers',
      'platform-oncall',
      'security-leads',
      'no-such-group',
    ]);

    // Assess
    expect(alice).toEqual({
      kind: 'human',
      slackUserId: 'U0ALICE01',
      email: 'alice@example.com',
      name: 'alice',
      displayName: 'Alice Adams',
      groups: ['security-approvers', 'security-leads'],
    });
  });

  it.each([
    ['an unknown user', 'U0NOBODY0', 'unresolved'],
    ['a user without an email', 'U0NOMAIL9', 'unresolved'],
    ['a bot user', 'U0AGENT08', 'bot'],
    ['something that is not a user id', 'alice', 'unresolved'],
  ])('reports %s as %s', async (_name, id, kind) => {
    // Act
    const result = await createIdentityResolver(client()).resolve(id, ['security-approvers']);

    // Assess
    expect(result.kind).toBe(kind);
  });

  it('reports a deactivated account as unresolved', async () => {
    // Prepare
    const directory = loadDirectory();
    directory.users.find((u) => u.name === 'bob')!.deleted = true;
    const own = await startFakeSlack({ directory });

    // Act
    const result = await createIdentityResolver(createSlackClient(FAKE_SLACK_TOKEN, own.url)).resolve(
      'U0BOB0002',
      [],
    );
    await own.close();

    // Assess
    expect(result).toMatchObject({ kind: 'unresolved', reason: 'the Slack account is deactivated' });
  });

  it('caches lookups for the TTL, shares concurrent lookups, and looks again after it', async () => {
    // Prepare
    let now = 1_000_000;
    const resolver = createIdentityResolver(client(), { ttlMs: 60_000, now: () => now });

    // Act
    await Promise.all([1, 2, 3].map(() => resolver.resolve('U0BOB0002', ['security-approvers'])));
    await resolver.resolve('U0BOB0002', ['security-approvers']);
    const cached = {
      users: countOf('users.info'),
      groups: countOf('usergroups.list'),
      members: countOf('usergroups.users.list'),
    };
    now += 60_001;
    await resolver.resolve('U0BOB0002', ['security-approvers']);

    // Assess
    expect(cached).toEqual({ users: 1, groups: 1, members: 1 });
    expect(countOf('users.info')).toBe(2);
  });

  it('does not cache failures', async () => {
    // Prepare
    const resolver = createIdentityResolver(client());
    slack.setFailure('users.info', 'internal_error');

    // Act
    const first = await resolver.resolve('U0ALICE01', []);
    const second = await resolver.resolve('U0ALICE01', []);

    // Assess
    expect(first.kind).toBe('unresolved');
    expect(second.kind).toBe('human');
  });

  it('keeps one module-wide resolver per Slack client', () => {
    // Prepare
    const a = client();

    // Act / Assess
    expect(identityResolverFor(a)).toBe(identityResolverFor(a));
    expect(identityResolverFor(a)).not.toBe(identityResolverFor(client()));
  });
});
