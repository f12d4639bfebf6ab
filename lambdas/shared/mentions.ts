/**
 * Slack mentions of approver and escalation targets. A user-group mention must
 * name the group's id (`<!subteam^S0123|@handle>`) to notify its members; the
 * ids are looked up with `usergroups.list` and kept for {@link MENTION_TTL_MS}
 * per container, as are emails resolved to user ids (`users.lookupByEmail`):
 * reminders and notices for many requests cost one lookup per key, inside
 * Slack's tiers (Tier 2 and Tier 3). A handle that
 * cannot be resolved is shown as plain `@handle` (it notifies nobody, which the
 * caller logs), never dropped.
 */
import type { WebClient } from '@slack/web-api';
import { escapeEntities } from './agent-text.js';
import { LookupCache } from './lookup-cache.js';

/** How long a warm container reuses a group id or an email's user id. */
export const MENTION_TTL_MS = 10 * 60_000;

/** The caches of one Slack client (a handler builds one per container). */
const caches = new WeakMap<
  object,
  { groupIds: LookupCache<Map<string, string>>; userIds: LookupCache<string | undefined> }
>();
const cachesOf = (slack: object) => {
  let found = caches.get(slack);
  if (!found) {
    found = {
      groupIds: new LookupCache('mentions:usergroups.list', MENTION_TTL_MS),
      userIds: new LookupCache('users.lookupByEmail', MENTION_TTL_MS),
    };
    caches.set(slack, found);
  }
  return found;
};

/** Mentions for `group:<handle>` / `email:<address>` targets (or bare handles). */
export async function mentionTargets(
  slack: Pick<WebClient, 'usergroups'>,
  targets: readonly string[],
): Promise<string[]> {
  const handles = targets.filter((t) => !t.startsWith('email:')).map((t) => t.replace(/^group:/, ''));
  let ids = new Map<string, string>();
  if (handles.length > 0) {
    try {
      ids = await cachesOf(slack).groupIds.get('all', () =>
        slack.usergroups
          .list({})
          .then((out) => new Map((out.usergroups ?? []).map((g) => [String(g.handle), String(g.id)]))),
      );
    } catch {
      // Not cached: the next call asks again.
    }
  }
  return targets.map((t) => {
    if (t.startsWith('email:')) return escapeEntities(t.slice('email:'.length));
    const handle = t.replace(/^group:/, '');
    const id = ids.get(handle);
    // Ids come from Slack; handles from configuration, shown escaped either way.
    const shown = escapeEntities(handle);
    return id && /^S[A-Z0-9]+$/.test(id) ? `<!subteam^${id}|@${shown}>` : `@${shown}`;
  });
}

/** Resolves an email to a Slack user id (`users.lookupByEmail`), or undefined. */
export async function userIdByEmail(
  slack: Pick<WebClient, 'users'>,
  email: string,
): Promise<string | undefined> {
  return cachesOf(slack).userIds.get(email.toLowerCase(), async () => {
    const out = await slack.users.lookupByEmail({ email });
    return out.ok ? out.user?.id : undefined;
  });
}
