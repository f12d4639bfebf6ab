/**
 * Who acts, for channels whose people sign in at the IdP (the web inbox, the
 * approval API), and the link between a Slack user and the IdP.
 *
 * A signed-in actor is the person of the verified {@link SignIn} the channel
 * attached: the verified email and the IdP's groups, never anything the
 * client sends. The review core then applies the same invariants and the same
 * Cedar group names as for Slack (self-approval by canonical email,
 * unresolved never votes). A token that names no person (an agent's client
 * credentials) never becomes a sign-in: the verifier refuses it.
 */
import type { ActorResolver, ChannelActor } from '../review-core/contract.js';
import { canonicalEmail } from '../shared/email.js';
import type { IdentityResolver, ResolvedIdentity } from '../shared/identity.js';
import { type IdentityStoreApi, identityStoreLookup } from './groups.js';

/** The channels whose actors are signed in. */
export const SIGNED_IN_CHANNELS = ['web', 'api'] as const;

/** Options of {@link signInResolver}. */
export interface SignInResolverOptions {
  /** The configured issuer: a sign-in from any other is refused. */
  issuer: string;
}

const unresolved = (actor: ChannelActor, reason: string): ResolvedIdentity => ({
  kind: 'unresolved',
  slackUserId: actor.userId,
  reason,
});

/** Resolves a web or API actor from the sign-in its channel verified. */
export function signInResolver(options: SignInResolverOptions): ActorResolver {
  return async (actor, groupHandles) => {
    const signIn = actor.signIn;
    if (!(SIGNED_IN_CHANNELS as readonly string[]).includes(actor.channel))
      return unresolved(actor, `the ${actor.channel} channel has no sign-in`);
    if (!signIn) return unresolved(actor, 'you are not signed in');
    if (signIn.issuer !== options.issuer)
      return unresolved(actor, `your sign-in is from ${signIn.issuer}, not from this deployment's IdP`);
    if (signIn.emailVerified !== true) return unresolved(actor, 'the IdP has not verified your email');
    const email = canonicalEmail(signIn.email);
    if (!email.ok) return unresolved(actor, `your email ${email.reason}`);
    const name = signIn.name?.trim() || email.email;
    return {
      kind: 'human',
      slackUserId: actor.userId,
      email: email.email,
      name,
      displayName: name,
      groups: groupHandles.filter((handle) => signIn.groups.includes(handle)),
    };
  };
}

/** Routes each actor to its channel's resolver; a channel without one is unresolved. */
export function channelResolver(routes: Record<string, ActorResolver>): ActorResolver {
  return (actor, groups) => {
    const route = Object.hasOwn(routes, actor.channel) ? routes[actor.channel] : undefined;
    return route
      ? route(actor, groups)
      : Promise.resolve(unresolved(actor, `no resolver for ${actor.channel}`));
  };
}

/** A person as the IdP's directory holds them. */
export interface DirectoryPerson {
  /** The group names the IdP gives them (the names Cedar reads). */
  groups: string[];
}

/** Looks a verified email up in the IdP's directory. Throws when the directory cannot answer. */
export interface IdpDirectory {
  /** The IdP's name for messages (its issuer). */
  readonly name: string;
  findByEmail(email: string): Promise<DirectoryPerson | undefined>;
}

/**
 * The IdP directory of IAM Identity Center's identity store: the user whose
 * primary email is this one, and their groups' display names.
 */
export function identityStoreDirectory(
  store: IdentityStoreApi,
  options: { identityStoreId: string; name: string },
): IdpDirectory {
  const lookup = identityStoreLookup(store, { identityStoreId: options.identityStoreId, match: 'email' });
  return {
    name: options.name,
    async findByEmail(email) {
      // Stryker disable next-line StringLiteral: matching by email reads neither issuer nor subject
      const userId = await lookup.userOf({ issuer: options.name, subject: '', email });
      return userId ? { groups: await lookup.groupsOfUser(userId) } : undefined;
    },
  };
}

/**
 * Links Slack users to the IdP by verified email: a Slack user resolves only
 * when the IdP's directory holds their (canonical) profile email, and their
 * groups are then the IdP's, so Cedar sees the same names from every channel.
 * A Slack user the directory does not hold, or a directory that cannot
 * answer, is unresolved: the core refuses and audits it.
 */
export function linkedSlackResolver(slack: IdentityResolver, directory: IdpDirectory): IdentityResolver {
  return {
    async resolve(slackUserId, groupHandles) {
      const identity = await slack.resolve(slackUserId, groupHandles);
      if (identity.kind !== 'human') return identity;
      let person: DirectoryPerson | undefined;
      try {
        person = await directory.findByEmail(identity.email);
      } catch (error) {
        return {
          kind: 'unresolved',
          slackUserId,
          reason: `the IdP directory could not be asked about your Slack email: ${(error as Error).message}`,
        };
      }
      if (!person) {
        return {
          kind: 'unresolved',
          slackUserId,
          reason: `your Slack email ${identity.email} has no identity at ${directory.name}; approvers must be people of the company IdP`,
        };
      }
      return { ...identity, groups: groupHandles.filter((handle) => person.groups.includes(handle)) };
    },
  };
}
