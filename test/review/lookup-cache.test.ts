/**
 * Directory lookups outside the click path stay inside Slack's tiers: the
 * Record and Reminder handlers resolve an email (`users.lookupByEmail`, Tier 3)
 * and group handles (`usergroups.list`, Tier 2) once per key and TTL per warm
 * container, never cache a failure, and count hits and misses for benches.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { lookupCacheCounters, resetLookupCacheCounters } from '../../lambdas/shared/lookup-cache.js';
import { mentionTargets, userIdByEmail } from '../../lambdas/shared/mentions.js';
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
afterAll(() => slack.close());
beforeEach(() => {
  slack.reset();
  resetLookupCacheCounters();
});

const callsOf = (method: string) => slack.calls.filter((c) => c.method === method);

describe('lookups of the background handlers', () => {
  it('an email is looked up once per warm client, whatever its case', async () => {
    // Prepare
    const client = createSlackClient(FAKE_SLACK_TOKEN, slack.url);

    // Act
    const ids = [
      await userIdByEmail(client, 'carol@example.com'),
      await userIdByEmail(client, 'Carol@Example.com'),
      await userIdByEmail(client, 'carol@example.com'),
    ];

    // Assess
    expect(ids).toEqual(['U0CAROL03', 'U0CAROL03', 'U0CAROL03']);
    expect(callsOf('users.lookupByEmail')).toHaveLength(1);
    expect(lookupCacheCounters()['users.lookupByEmail']).toEqual({ hits: 2, misses: 1 });
  });

  it('a failed lookup is not cached: the next request asks Slack again', async () => {
    // Prepare
    const client = createSlackClient(FAKE_SLACK_TOKEN, slack.url);
    slack.setFailure('users.lookupByEmail', 'internal_error', 1);

    // Act
    const first = userIdByEmail(client, 'dave@example.com');
    await expect(first).rejects.toThrow(/internal_error/);
    const second = await userIdByEmail(client, 'dave@example.com');

    // Assess
    expect(second).toBe('U0DAVE004');
    expect(callsOf('users.lookupByEmail').map((c) => c.error)).toEqual(['internal_error', undefined]);
  });

  it('group mentions list the groups once per warm client', async () => {
    // Prepare
    const client = createSlackClient(FAKE_SLACK_TOKEN, slack.url);

    // Act
    const first = await mentionTargets(client, ['group:security-approvers']);
    const again = await mentionTargets(client, ['group:security-approvers', 'email:erin@example.com']);

    // Assess
    expect(first[0]).toMatch(/^<!subteam\^S[A-Z0-9]+\|@security-approvers>$/);
    expect(again[0]).toBe(first[0]);
    expect(callsOf('usergroups.list')).toHaveLength(1);
    expect(lookupCacheCounters()['mentions:usergroups.list']).toEqual({ hits: 1, misses: 1 });
  });
});
