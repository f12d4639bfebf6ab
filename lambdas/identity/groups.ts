/**
 * Where a signed-in person's groups come from: a claim of the verified token,
 * or AWS IAM Identity Center's identity store (organisations that sync Okta or
 * Entra ID into it by SCIM). Either way Cedar policies read group names, the
 * same names Slack user-group handles give them.
 */
import {
  DescribeGroupCommand,
  GetUserIdCommand,
  IdentitystoreClient,
  ListGroupMembershipsForMemberCommand,
} from '@aws-sdk/client-identitystore';
import { lambdaClientConfig, observed } from '../shared/client-config.js';
import type { IdentityProviderConfig } from './config.js';
import { TokenRefused } from './contract.js';

/** Whom to look up: the verified token's facts. */
export interface GroupSubject {
  issuer: string;
  subject: string;
  /** Canonical, verified email. */
  email: string;
  /** The verified token's claims (for a groups claim). */
  claims: Record<string, unknown>;
}

/** Finds a verified person's group names. Throws {@link TokenRefused} when it cannot tell. */
export interface GroupSource {
  groupsOf(person: GroupSubject): Promise<string[]>;
}

const GROUP_NAME = /^[\x21-\x7e][\x20-\x7e]{0,199}$/;

/**
 * Groups from a claim: an array of names (a single string counts as one). An
 * absent claim is no group at all, so no group policy matches; a claim of any
 * other shape is refused rather than guessed at.
 */
export function claimGroups(claim: string): GroupSource {
  return {
    async groupsOf({ claims }) {
      const value = claims[claim];
      if (value === undefined) return [];
      const list = typeof value === 'string' ? [value] : value;
      if (!Array.isArray(list) || !list.every((g) => typeof g === 'string' && GROUP_NAME.test(g))) {
        throw new TokenRefused(
          'malformed',
          `the token's "${claim}" claim is not a list of printable group names`,
        );
      }
      return [...new Set(list as string[])];
    },
  };
}

/** The identity store calls the lookup makes. */
export type IdentityStoreApi = Pick<IdentitystoreClient, 'send'>;

/** Options of {@link identityStoreGroups}. */
export interface IdentityStoreGroupsOptions {
  identityStoreId: string;
  /** Find the user by primary email, or by the SCIM `externalId` the issuer gave them. */
  match: 'email' | 'externalId';
  /** How long a group's display name is reused. @default 300_000 */
  nameTtlMs?: number;
  /** @default Date.now */
  now?: () => number;
}

/** The identity store's answers about people: who a person is there, and their groups' names. */
export interface IdentityStoreLookup {
  userOf(person: { issuer: string; subject: string; email: string }): Promise<string | undefined>;
  groupsOfUser(userId: string): Promise<string[]>;
}

/** Looks people up in one identity store (group display names cached for `nameTtlMs`). */
export function identityStoreLookup(
  store: IdentityStoreApi,
  options: IdentityStoreGroupsOptions,
): IdentityStoreLookup {
  const { identityStoreId } = options;
  const ttl = options.nameTtlMs ?? 300_000;
  const now = options.now ?? Date.now;
  const names = new Map<string, { at: number; name: string | undefined }>();

  const groupName = async (groupId: string): Promise<string | undefined> => {
    const hit = names.get(groupId);
    if (hit && now() - hit.at < ttl) return hit.name;
    // A group deleted since the membership was listed is no group.
    const out = await store
      .send(new DescribeGroupCommand({ IdentityStoreId: identityStoreId, GroupId: groupId }))
      .catch((error: Error) => {
        if (error.name === 'ResourceNotFoundException') return { DisplayName: undefined };
        throw error;
      });
    const name = out.DisplayName && GROUP_NAME.test(out.DisplayName) ? out.DisplayName : undefined;
    names.set(groupId, { at: now(), name });
    return name;
  };

  return {
    userOf: (person) => findUser(store, identityStoreId, options.match, person),
    async groupsOfUser(userId) {
      const groupIds: string[] = [];
      let nextToken: string | undefined;
      do {
        const page = await store.send(
          new ListGroupMembershipsForMemberCommand({
            IdentityStoreId: identityStoreId,
            MemberId: { UserId: userId },
            NextToken: nextToken,
          }),
        );
        for (const m of page.GroupMemberships ?? []) if (m.GroupId) groupIds.push(m.GroupId);
        nextToken = page.NextToken;
      } while (nextToken);
      const resolved = await Promise.all([...new Set(groupIds)].map(groupName));
      return [...new Set(resolved.filter((n): n is string => n !== undefined))];
    },
  };
}

/**
 * Groups from the identity store: the user (by email or `externalId`), their
 * memberships (`ListGroupMembershipsForMember`, every page), each group's
 * display name (`DescribeGroup`, cached). A person the store does not hold is
 * in no group; a store that cannot be reached refuses (`unavailable`).
 */
export function identityStoreGroups(
  store: IdentityStoreApi,
  options: IdentityStoreGroupsOptions,
): GroupSource {
  const lookup = identityStoreLookup(store, options);
  return {
    async groupsOf({ issuer, subject, email }) {
      try {
        const userId = await lookup.userOf({ issuer, subject, email });
        return userId ? await lookup.groupsOfUser(userId) : [];
      } catch (error) {
        throw new TokenRefused(
          'unavailable',
          `the identity store could not tell this person's groups: ${(error as Error).message}`,
        );
      }
    },
  };
}

/** The identity store's user id of a person, or undefined when it holds none. */
export async function findUser(
  store: IdentityStoreApi,
  identityStoreId: string,
  match: 'email' | 'externalId',
  person: { issuer: string; subject: string; email: string },
): Promise<string | undefined> {
  try {
    const out = await store.send(
      new GetUserIdCommand({
        IdentityStoreId: identityStoreId,
        AlternateIdentifier:
          match === 'email'
            ? { UniqueAttribute: { AttributePath: 'emails.value', AttributeValue: person.email } }
            : { ExternalId: { Issuer: person.issuer, Id: person.subject } },
      }),
    );
    return out.UserId;
  } catch (error) {
    if ((error as Error).name === 'ResourceNotFoundException') return undefined;
    throw error;
  }
}

/** The identity store client of a configuration (observed, so tests can record its calls). */
export function createIdentityStoreClient(config: Pick<IdentityProviderConfig, 'identityStoreRegion'>) {
  return observed(
    new IdentitystoreClient({
      ...lambdaClientConfig,
      ...(config.identityStoreRegion ? { region: config.identityStoreRegion } : {}),
    }),
  );
}

/** The group source a configuration names: the identity store when it has an id, else the groups claim. */
export function groupSourceFor(
  config: Pick<
    IdentityProviderConfig,
    'groupsClaim' | 'identityStoreId' | 'identityStoreMatch' | 'identityStoreRegion'
  >,
  store?: IdentityStoreApi,
): GroupSource {
  if (!config.identityStoreId) return claimGroups(config.groupsClaim);
  return identityStoreGroups(store ?? createIdentityStoreClient(config), {
    identityStoreId: config.identityStoreId,
    match: config.identityStoreMatch,
  });
}
