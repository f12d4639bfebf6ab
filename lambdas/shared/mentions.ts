/**
 * Slack mentions of approver and escalation targets. A user-group mention must
 * name the group's id (`<!subteam^S0123|@handle>`) to notify its members; the
 * ids are looked up once per container with `usergroups.list`. A handle that
 * cannot be resolved is shown as plain `@handle` (it notifies nobody, which the
 * caller logs), never dropped.
 */
import type { WebClient } from '@slack/web-api';
import { escapeEntities } from './agent-text.js';

let groupIds: Promise<Map<string, string>> | undefined;

/** Mentions for `group:<handle>` / `email:<address>` targets (or bare handles). */
export async function mentionTargets(
  slack: Pick<WebClient, 'usergroups'>,
  targets: readonly string[],
): Promise<string[]> {
  const handles = targets.filter((t) => !t.startsWith('email:')).map((t) => t.replace(/^group:/, ''));
  let ids = new Map<string, string>();
  if (handles.length > 0) {
    groupIds ??= slack.usergroups
      .list({})
      .then((out) => new Map((out.usergroups ?? []).map((g) => [String(g.handle), String(g.id)])));
    try {
      ids = await groupIds;
    } catch {
      groupIds = undefined;
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
  const out = await slack.users.lookupByEmail({ email });
  return out.ok ? out.user?.id : undefined;
}
