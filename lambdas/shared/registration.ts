/**
 * What Countersign knows about an agent from its registration, not from its
 * intents: the owner bound by `CountersignStack.addAgent(role, agentId,
 * { owner, environments })`, carried to the handlers as
 * `COUNTERSIGN_AGENTS` by the same call that grants the agent's role.
 *
 * {@link verifyIntent} turns an intent into the facts policy and the "self"
 * checks key on: the registered owner, the canonical on-behalf-of human and
 * the derived environment. It refuses, with a reason, an intent from an
 * unregistered agent, a claimed owner that is not the registered one, an
 * email that is not acceptable as an identity, and a declared environment
 * that differs from the derived one.
 */
import { canonicalEmail, type EmailRules, emailRules } from './email.js';
import {
  canonicalEnvironment,
  deriveEnvironment,
  type EnvironmentMap,
  type EnvironmentSource,
  UNKNOWN_ENVIRONMENT,
} from './environment.js';
import type { Intent } from './intent.js';

/** One registered agent. */
export interface AgentRegistration {
  /** Canonical email of the human who owns the agent. */
  readonly owner: string;
  /** Canonical environments the agent acts in; any when absent. */
  readonly environments?: readonly string[];
}

/** Registered agents by agent id. */
export type AgentRegistry = Readonly<Record<string, AgentRegistration>>;

/** Environment variable carrying the {@link AgentRegistry} as JSON. */
export const AGENTS_ENV = 'COUNTERSIGN_AGENTS';

/** The facts Countersign established for a request; stored on it and given to policy. */
export interface VerifiedFacts {
  /** The registered owner (canonical). */
  owner: string;
  /** The human the agent acts for (canonical form of `agent.onBehalfOf`). */
  onBehalfOf: string;
  /** The derived, canonical environment ({@link UNKNOWN_ENVIRONMENT} when nothing places it). */
  environment: string;
  /** What the agent declared, as sent. */
  declaredEnvironment: string;
  /** Where {@link environment} came from. */
  environmentSource: EnvironmentSource;
}

/** The result of {@link verifyIntent}. */
export type Verification = { ok: true; facts: VerifiedFacts } | { ok: false; reason: string };

/** Parses an {@link AgentRegistry} from JSON; throws naming the agent that is malformed. */
export function parseAgentRegistry(json: string): AgentRegistry {
  const value = JSON.parse(json) as Record<string, Partial<AgentRegistration>>;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error(`${AGENTS_ENV} must be a JSON object of agent id -> { owner, environments? }`);
  }
  const registry: Record<string, AgentRegistration> = {};
  for (const [agentId, entry] of Object.entries(value)) {
    const owner = canonicalEmail(entry?.owner);
    const environments = entry?.environments;
    if (!owner.ok) throw new Error(`${AGENTS_ENV}.${agentId}.owner ${owner.reason}`);
    if (
      environments !== undefined &&
      !(Array.isArray(environments) && environments.every((e) => typeof e === 'string'))
    ) {
      throw new Error(`${AGENTS_ENV}.${agentId}.environments must be a list of environment names`);
    }
    registry[agentId] = { owner: owner.email, ...(environments ? { environments } : {}) };
  }
  return registry;
}

/** What {@link verifyIntent} checks against. */
export interface VerificationContext {
  agents: AgentRegistry;
  environments: EnvironmentMap;
  /** @default emailRules() */
  emailRules?: EmailRules;
}

/** Establishes the facts of an intent from the registry and configuration, or refuses it with a reason. */
export function verifyIntent(ctx: VerificationContext, agentId: string, intent: Intent): Verification {
  const rules = ctx.emailRules ?? emailRules();
  const registration = Object.hasOwn(ctx.agents, agentId) ? ctx.agents[agentId] : undefined;
  if (!registration) {
    return {
      ok: false,
      reason: `agent "${agentId}" is not registered (CountersignStack.addAgent with its owner); intents from unregistered agents are refused`,
    };
  }
  const claimed = canonicalEmail(intent.agent.owner, rules);
  if (!claimed.ok) return { ok: false, reason: `agent.owner ${claimed.reason}` };
  if (claimed.email !== registration.owner) {
    return {
      ok: false,
      reason: `agent.owner "${intent.agent.owner}" is not the owner registered for agent "${agentId}" (${registration.owner}); the owner is bound at registration, not declared`,
    };
  }
  const principal = canonicalEmail(intent.agent.onBehalfOf, rules);
  if (!principal.ok) return { ok: false, reason: `agent.onBehalfOf ${principal.reason}` };

  const derived = deriveEnvironment(intent.resource, ctx.environments, registration.environments);
  if (!derived.ok) return { ok: false, reason: `environment: ${derived.reason}` };
  const declared = canonicalEnvironment(intent.environment, ctx.environments);
  if (derived.environment !== UNKNOWN_ENVIRONMENT && declared !== derived.environment) {
    return {
      ok: false,
      reason: `environment "${intent.environment}" does not match the environment Countersign derives for this intent: "${derived.environment}" (${derived.detail}); the environment is derived, not declared`,
    };
  }
  return {
    ok: true,
    facts: {
      owner: registration.owner,
      onBehalfOf: principal.email,
      environment: derived.environment,
      declaredEnvironment: intent.environment,
      environmentSource: derived.source,
    },
  };
}

/**
 * Facts for an intent that was never verified (offline policy tooling, or a
 * request stored before verification existed): the intent's own claims,
 * canonicalised, with the environment as `environment` says. The Evaluate and
 * interaction handlers never use this for a request Evaluate verified.
 */
export function declaredFacts(intent: Intent, environment = intent.environment): VerifiedFacts {
  const email = (raw: string) => {
    const c = canonicalEmail(raw);
    return c.ok ? c.email : raw.trim().toLowerCase();
  };
  return {
    owner: email(intent.agent.owner),
    onBehalfOf: email(intent.agent.onBehalfOf),
    environment,
    declaredEnvironment: intent.environment,
    environmentSource: 'none',
  };
}

/**
 * The facts a stored request is judged by: those Evaluate verified, or, for a
 * request without them, the intent's claims in the {@link UNKNOWN_ENVIRONMENT}
 * (the strictest reading: no allow policy matches it).
 */
export function requestFacts(request: { intent: Intent; verified?: VerifiedFacts }): VerifiedFacts {
  return request.verified ?? declaredFacts(request.intent, UNKNOWN_ENVIRONMENT);
}

let registered: AgentRegistry | undefined;

/**
 * The deployment's registry from `COUNTERSIGN_AGENTS`, read once; empty when
 * unset (a handler that is not bound to it). The interaction handler uses it
 * to count an agent's currently registered owner as "self" too.
 */
export function registeredAgents(): AgentRegistry {
  if (!registered) {
    const raw = process.env[AGENTS_ENV];
    registered = raw && raw.trim() !== '' ? parseAgentRegistry(raw) : {};
  }
  return registered;
}
