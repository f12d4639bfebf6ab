/**
 * Who a Teams user is: the activity names the person by their Entra object id
 * (`from.aadObjectId`); Microsoft Graph says their email (`mail`) and the
 * groups they belong to (transitively), whose mail nicknames are the group
 * handles policies name (`group:security-approvers`). The result is the same
 * identity a Slack user resolves to, so every invariant and Cedar rule applies
 * unchanged. Anything short of an enabled member account with an acceptable
 * email is unresolved, and unresolved never votes (invariant 2).
 *
 * Lookups are cached briefly per user (a burst of clicks costs one), and
 * failures are never cached.
 */
import type { ActorResolver, ChannelActor } from '../review-core/contract.js';
import { canonicalEmail } from '../shared/email.js';
import type { ResolvedIdentity } from '../shared/identity.js';
import type { TokenSource } from './client-token.js';

/** The channel's name in review commands and audit records. */
export const TEAMS_CHANNEL = 'teams';

/** Microsoft Graph (public cloud). */
export const GRAPH_URL = 'https://graph.microsoft.com';
/** Graph's token scope. */
export const GRAPH_SCOPE = 'https://graph.microsoft.com/.default';

/** An Entra object id (a GUID). */
const OBJECT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** How a Teams voter is named on votes and audit records: distinct from every Slack user id. */
export const teamsVoterId = (aadObjectId: string) => `teams:${aadObjectId.toLowerCase()}`;

/** Options of {@link graphResolver}. */
export interface GraphResolverOptions {
  token: TokenSource;
  /** @default GRAPH_URL (the sandbox's fake Graph on 127.0.0.1) */
  graphUrl?: string;
  /** @default globalThis.fetch */
  fetch?: typeof fetch;
  /** @default 60_000 */
  ttlMs?: number;
  /** Epoch ms. @default Date.now */
  now?: () => number;
}

interface GraphUser {
  id?: string;
  mail?: string | null;
  userPrincipalName?: string;
  displayName?: string;
  accountEnabled?: boolean;
}

interface Looked {
  user: GraphUser | undefined;
  groups: string[];
}

/** Resolves Teams actors (Entra object ids) through Microsoft Graph. */
export function graphResolver(options: GraphResolverOptions): ActorResolver {
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const graph = (options.graphUrl ?? GRAPH_URL).replace(/\/+$/, '');
  const ttl = options.ttlMs ?? 60_000;
  const now = options.now ?? Date.now;
  const cache = new Map<string, { at: number; value: Promise<Looked> }>();

  async function get(path: string): Promise<{ status: number; json: Record<string, unknown> }> {
    const response = await fetchImpl(`${graph}${path}`, {
      headers: { authorization: `Bearer ${await options.token()}`, accept: 'application/json' },
      signal: AbortSignal.timeout(3000),
    });
    if (response.status === 401) options.token.forget();
    if (response.status === 404) return { status: 404, json: {} };
    if (!response.ok) throw new Error(`Graph answered ${response.status}`);
    return { status: response.status, json: (await response.json()) as Record<string, unknown> };
  }

  async function lookUp(id: string): Promise<Looked> {
    const user = await get(`/v1.0/users/${id}?$select=id,mail,userPrincipalName,displayName,accountEnabled`);
    if (user.status === 404) return { user: undefined, groups: [] };
    const groups: string[] = [];
    let next: string | undefined =
      `/v1.0/users/${id}/transitiveMemberOf/microsoft.graph.group?$select=mailNickname&$top=999`;
    for (let page = 0; next && page < 20; page++) {
      const out = await get(next);
      for (const g of (out.json.value as { mailNickname?: unknown }[] | undefined) ?? []) {
        if (typeof g.mailNickname === 'string') groups.push(g.mailNickname.toLowerCase());
      }
      const link = out.json['@odata.nextLink'];
      next = typeof link === 'string' && link.startsWith(graph) ? link.slice(graph.length) : undefined;
    }
    return { user: user.json as GraphUser, groups };
  }

  const looked = (id: string) => {
    const hit = cache.get(id);
    if (hit && now() - hit.at < ttl) return hit.value;
    const value = lookUp(id);
    cache.set(id, { at: now(), value });
    value.catch(() => {
      if (cache.get(id)?.value === value) cache.delete(id);
    });
    return value;
  };

  return async (actor: ChannelActor, groupHandles: readonly string[]): Promise<ResolvedIdentity> => {
    const voterId = String(actor.userId);
    if (actor.channel !== TEAMS_CHANNEL)
      return { kind: 'unresolved', slackUserId: voterId, reason: `not a ${TEAMS_CHANNEL} user` };
    if (!OBJECT_ID.test(actor.userId))
      return { kind: 'unresolved', slackUserId: voterId, reason: 'the Teams user has no Entra object id' };
    const id = actor.userId.toLowerCase();
    const slackUserId = teamsVoterId(id);
    let found: Looked;
    try {
      found = await looked(id);
    } catch (error) {
      return {
        kind: 'unresolved',
        slackUserId,
        reason: `directory lookup failed: ${(error as Error).message}`,
      };
    }
    const user = found.user;
    if (!user || user.id?.toLowerCase() !== id)
      return { kind: 'unresolved', slackUserId, reason: 'no such user in the directory' };
    if (user.accountEnabled === false)
      return { kind: 'unresolved', slackUserId, reason: 'the directory account is disabled' };
    // `mail` is the address the directory vouches for; a UPN is a sign-in name and need not be one.
    if (!user.mail)
      return { kind: 'unresolved', slackUserId, reason: 'the directory has no email for this user' };
    const canonical = canonicalEmail(user.mail);
    if (!canonical.ok)
      return { kind: 'unresolved', slackUserId, reason: `the directory email ${canonical.reason}` };
    const member = new Set(found.groups);
    const name = user.displayName || canonical.email;
    return {
      kind: 'human',
      slackUserId,
      email: canonical.email,
      name,
      displayName: name,
      groups: groupHandles.filter((handle) => member.has(handle.toLowerCase())),
    };
  };
}
