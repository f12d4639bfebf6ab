/**
 * The registry of agents: who owns each one and where it acts. It is filled
 * by `CountersignStack.addAgent` (which also grants the agent's role) and
 * reaches the handlers that decide who counts as "self" and which
 * environment policy sees, as `COUNTERSIGN_AGENTS`, `COUNTERSIGN_ENVIRONMENTS`
 * and `COUNTERSIGN_EMAIL_RULES` (see lambdas/shared/registration.ts).
 */
import { Lazy } from 'aws-cdk-lib';
import { canonicalEmail, EMAIL_RULES_ENV, type EmailRules } from '../lambdas/shared/email.js';
import {
  canonicalEnvironment,
  ENVIRONMENTS_ENV,
  type EnvironmentMap,
} from '../lambdas/shared/environment.js';
import { agentIdSchema } from '../lambdas/shared/intent.js';
import { AGENTS_ENV, type AgentRegistration } from '../lambdas/shared/registration.js';
import type { Binding } from './handler-function.js';

/** What an agent is registered with. */
export interface AgentOptions {
  /** Email of the human who owns the agent; that person can never approve the agent's actions. */
  readonly owner: string;
  /**
   * Environments (canonical names or aliases of `countersign.environments`)
   * the agent acts in. An intent whose resource is placed elsewhere is
   * refused; when the resource places it nowhere and exactly one is listed,
   * that one is the derived environment.
   * @default - any environment
   */
  readonly environments?: string[];
}

/** Agents registered in one stack, and the environments and email rules they are checked against. */
export class AgentRegistry {
  private readonly agents: Record<string, AgentRegistration> = {};

  constructor(
    private readonly environments: EnvironmentMap,
    private readonly emailRules: EmailRules,
  ) {}

  /**
   * Registers an agent's owner and environments.
   * @throws Error naming the agent when the id, owner or an environment is invalid, or the agent is registered twice with another owner
   */
  public register(agentId: string, options: AgentOptions): AgentRegistration {
    if (!agentIdSchema.safeParse(agentId).success) {
      throw new Error(`addAgent: agent id "${agentId}" must be 1-64 of [a-z0-9._-], starting alphanumeric`);
    }
    const owner = canonicalEmail(options?.owner, this.emailRules);
    if (!owner.ok)
      throw new Error(`addAgent("${agentId}"): owner ${owner.reason}; an agent needs an owner email`);
    const environments = options.environments?.map((name) => {
      const canonical = canonicalEnvironment(name, this.environments);
      if (!Object.hasOwn(this.environments, canonical)) {
        const known = Object.keys(this.environments).join(', ') || 'none configured';
        throw new Error(
          `addAgent("${agentId}"): environment "${name}" is not in countersign.environments (${known})`,
        );
      }
      return canonical;
    });
    const registration: AgentRegistration = {
      owner: owner.email,
      ...(environments ? { environments: [...new Set(environments)].sort() } : {}),
    };
    const existing = this.agents[agentId];
    if (existing && JSON.stringify(existing) !== JSON.stringify(registration)) {
      throw new Error(`addAgent("${agentId}"): already registered with owner ${existing.owner}`);
    }
    this.agents[agentId] = registration;
    return registration;
  }

  /** The registered agents (a copy). */
  public get registrations(): Readonly<Record<string, AgentRegistration>> {
    return { ...this.agents };
  }

  /**
   * Binding for a handler that decides "self" (the interaction handler): the
   * registry and the email rules.
   */
  public selfReader(): Binding {
    const { environment } = this.reader();
    return {
      environment: {
        [AGENTS_ENV]: environment[AGENTS_ENV]!,
        [EMAIL_RULES_ENV]: environment[EMAIL_RULES_ENV]!,
      },
      grant: () => undefined,
    };
  }

  /** Binding for a handler that verifies intents (Evaluate): the registry, environments and email rules. */
  public reader(): Binding {
    return {
      environment: {
        // Resolved at synth, after every addAgent call.
        [AGENTS_ENV]: Lazy.string({ produce: () => JSON.stringify(this.agents) }),
        [ENVIRONMENTS_ENV]: JSON.stringify(this.environments),
        [EMAIL_RULES_ENV]: JSON.stringify(this.emailRules),
      },
      grant: () => undefined,
    };
  }
}
