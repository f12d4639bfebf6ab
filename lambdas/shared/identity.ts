/**
 * Approver identity: who a Slack user is (email, from `users.info`) and which
 * approver groups they belong to (`usergroups.list` to map handles to ids,
 * `usergroups.users.list` for members). An identity that cannot be resolved is
 * reported as unresolved, never guessed: the caller refuses it (invariant 2).
 *
 * Lookups are cached in the module for a short time (./lookup-cache.ts) so a
 * burst of clicks on one card costs one lookup per user and per group, inside
 * Slack's tiers (`users.info` Tier 4, the user-group methods Tier 2);
 * concurrent lookups of the same key share one request, and failures are never
 * cached. The caches count hits and misses for benches.
 */
import type { WebClient } from '@slack/web-api';
import { canonicalEmail } from './email.js';
import { LookupCache } from './lookup-cache.js';

/** A human Slack user, resolved to an email. */
export interface HumanIdentity {
  kind: 'human';
  slackUserId: string;
  /** Canonical email from the Slack profile (see ./email.ts): what "self" and approver checks compare. */
  email: string;
  /** Slack handle. */
  name: string;
  /** Real name when set, else the handle: what cards and reasons show. */
  displayName: string;
  /** Handles of the asked-about groups the user belongs to. */
  groups: string[];
}

/** The result of resolving a Slack user. */
export type ResolvedIdentity =
  | HumanIdentity
  /** A bot or app user: an agent, which never approves. */
  | { kind: 'bot'; slackUserId: string; name: string }
  | { kind: 'unresolved'; slackUserId: string; reason: string };

/** Resolves Slack users to identities. */
export interface IdentityResolver {
  /** Resolves a user and reports their membership in `groupHandles`. */
  resolve(slackUserId: string, groupHandles: readonly string[]): Promise<ResolvedIdentity>;
}

/** The Slack methods the resolver uses. */
export type IdentitySlack = Pick<WebClient, 'users' | 'usergroups'>;

/** Options of {@link createIdentityResolver}. */
export interface IdentityResolverOptions {
  /** How long a lookup is reused. @default 60_000 */
  ttlMs?: number;
  /** Clock in epoch milliseconds. @default Date.now */
  now?: () => number;
}

/** Default cache lifetime of a lookup. */
export const IDENTITY_TTL_MS = 60_000;

interface SlackUser {
  id?: string;
  name?: string;
  real_name?: string;
  deleted?: boolean;
  is_bot?: boolean;
  is_app_user?: boolean;
  profile?: { email?: string; real_name?: string };
}

/** Thrown by a lookup so the caller can tell "Slack says no" from "Slack is down". */
class LookupError extends Error {}

const SLACK_USER_ID = /^[UW][A-Z0-9]{2,}$/;

/** Creates a resolver with its own cache over one Slack client. */
export function createIdentityResolver(
  slack: IdentitySlack,
  options: IdentityResolverOptions = {},
): IdentityResolver {
  const ttl = options.ttlMs ?? IDENTITY_TTL_MS;
  const now = options.now ?? Date.now;
  const users = new LookupCache<SlackUser>('users.info', ttl, now);
  const groupIds = new LookupCache<Map<string, string>>('usergroups.list', ttl, now);
  const members = new LookupCache<Set<string>>('usergroups.users.list', ttl, now);

  const userInfo = (id: string) =>
    users.get(id, async () => {
      const out = await slack.users.info({ user: id }).catch((error: { data?: { error?: string } }) => {
        if (error?.data?.error === 'user_not_found') throw new LookupError(`Slack user ${id} does not exist`);
        throw error;
      });
      if (!out.user) throw new LookupError(`Slack returned no user for ${id}`);
      return out.user as SlackUser;
    });

  const handles = () =>
    groupIds.get('all', async () => {
      const out = await slack.usergroups.list({ include_disabled: false });
      return new Map(
        (out.usergroups ?? []).flatMap((g) => (g.handle && g.id ? [[g.handle, g.id] as const] : [])),
      );
    });

  const groupMembers = (groupId: string) =>
    members.get(groupId, async () => {
      const out = await slack.usergroups.users.list({ usergroup: groupId });
      return new Set(out.users ?? []);
    });

  return {
    async resolve(slackUserId, groupHandles) {
      if (typeof slackUserId !== 'string' || !SLACK_USER_ID.test(slackUserId)) {
        return { kind: 'unresolved', slackUserId: String(slackUserId), reason: 'not a Slack user id' };
      }
      let user: SlackUser;
      try {
        user = await userInfo(slackUserId);
      } catch (error) {
        const reason =
          error instanceof LookupError ? error.message : `Slack lookup failed: ${(error as Error).message}`;
        return { kind: 'unresolved', slackUserId, reason };
      }
      const name = user.name ?? slackUserId;
      if (user.is_bot || user.is_app_user || slackUserId === 'USLACKBOT')
        return { kind: 'bot', slackUserId, name };
      if (user.deleted)
        return { kind: 'unresolved', slackUserId, reason: 'the Slack account is deactivated' };
      const raw = user.profile?.email?.trim();
      if (!raw) {
        return {
          kind: 'unresolved',
          slackUserId,
          reason: 'the Slack profile has no email visible to Countersign',
        };
      }
      // A lookalike or internationalised address is no identity: refused, never folded into another.
      const canonical = canonicalEmail(raw);
      if (!canonical.ok)
        return { kind: 'unresolved', slackUserId, reason: `the Slack profile email ${canonical.reason}` };
      const email = canonical.email;
      const groups: string[] = [];
      if (groupHandles.length > 0) {
        // Without membership no eligibility can be decided: a failed lookup leaves the user unresolved.
        try {
          const ids = await handles();
          // One lookup per group, concurrently: the click path answers Slack within 3 s.
          const members = await Promise.all(
            groupHandles.map(async (handle) => {
              const id = ids.get(handle);
              return id !== undefined && (await groupMembers(id)).has(slackUserId);
            }),
          );
          groups.push(...groupHandles.filter((_, i) => members[i]));
        } catch (error) {
          return {
            kind: 'unresolved',
            slackUserId,
            reason: `group membership lookup failed: ${(error as Error).message}`,
          };
        }
      }
      const displayName = user.profile?.real_name || user.real_name || name;
      return { kind: 'human', slackUserId, email, name, displayName, groups };
    },
  };
}

const shared = new WeakMap<object, IdentityResolver>();

/** The module-wide resolver of a Slack client, so its cache outlives one invocation. */
export function identityResolverFor(slack: IdentitySlack): IdentityResolver {
  let resolver = shared.get(slack);
  if (!resolver) {
    resolver = createIdentityResolver(slack);
    shared.set(slack, resolver);
  }
  return resolver;
}
