/**
 * Who is calling the status API. API Gateway (an HTTP API with IAM
 * authorization) authenticates the caller with SigV4 and hands the Lambda the
 * caller's ARN (`requestContext.authorizer.iam.userArn` of the payload format
 * 2.0 event): for a role session
 * `arn:aws:sts::<account>:assumed-role/<RoleName>/<session>`. The stack knows
 * which role belongs to which agent — {@link CountersignStack.addAgent} binds
 * both the publish permission and this mapping — and passes the mapping as
 * `COUNTERSIGN_AGENT_ROLES`. A caller whose role is not in it is refused; a
 * registered caller sees only the requests and grants of its own agent id.
 */
import { agentIdSchema } from '../shared/intent.js';

/** One registered agent role. */
export interface AgentRole {
  /** IAM role ARN (`arn:<partition>:iam::<account>:role/<path/>name`) or user ARN. */
  roleArn: string;
  agentId: string;
}

/** Lookup from principal key to agent id. */
export type AgentRoles = ReadonlyMap<string, string>;

/**
 * The key both an IAM role ARN and the STS assumed-role ARN of its sessions
 * map to: `<partition>:<account>:role/<name>` (role names are unique in an
 * account whatever their path). IAM users map to `<partition>:<account>:user/<name>`.
 * Undefined for anything else (root, federated users, services).
 */
export function principalKey(arn: string): string | undefined {
  const m = /^arn:([a-z-]+):(iam|sts)::(\d{12}):(.+)$/.exec(arn);
  if (!m) return undefined;
  const [, partition, service, account, resource] = m as unknown as [string, string, string, string, string];
  const parts = resource.split('/');
  if (service === 'sts' && parts[0] === 'assumed-role' && parts.length >= 3) {
    return `${partition}:${account}:role/${parts[1]}`;
  }
  if (service === 'iam' && (parts[0] === 'role' || parts[0] === 'user') && parts.length >= 2) {
    return `${partition}:${account}:${parts[0]}/${parts[parts.length - 1]}`;
  }
  return undefined;
}

/**
 * Parses `COUNTERSIGN_AGENT_ROLES`: a JSON array of `{ roleArn, agentId }`, or
 * an object mapping role ARN to agent id.
 *
 * @throws Error naming the bad entry, so a misconfigured function fails at cold start
 */
export function parseAgentRoles(text: string | undefined): AgentRoles {
  const roles = new Map<string, string>();
  if (!text?.trim()) return roles;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new Error('COUNTERSIGN_AGENT_ROLES is not JSON');
  }
  if (!Array.isArray(raw) && (typeof raw !== 'object' || raw === null)) {
    throw new Error('COUNTERSIGN_AGENT_ROLES must be an array of { roleArn, agentId } or an object');
  }
  const entries: [unknown, unknown][] = Array.isArray(raw)
    ? raw.map((e) => [(e as AgentRole | null)?.roleArn, (e as AgentRole | null)?.agentId])
    : Object.entries(raw as Record<string, unknown>);
  for (const [arn, agentId] of entries) {
    const key = typeof arn === 'string' ? principalKey(arn) : undefined;
    if (!key) throw new Error(`COUNTERSIGN_AGENT_ROLES: "${String(arn)}" is not an IAM role or user ARN`);
    if (typeof agentId !== 'string' || !agentIdSchema.safeParse(agentId).success) {
      throw new Error(
        `COUNTERSIGN_AGENT_ROLES: agent id "${String(agentId)}" of ${arn} is not a valid agent id`,
      );
    }
    const existing = roles.get(key);
    if (existing && existing !== agentId) {
      throw new Error(`COUNTERSIGN_AGENT_ROLES: ${arn} is bound to both "${existing}" and "${agentId}"`);
    }
    roles.set(key, agentId);
  }
  return roles;
}

/** What the handlers read of an HTTP API event (payload format 2.0, IAM authorization). */
export interface ApiEvent {
  pathParameters?: Record<string, string | undefined> | null;
  requestContext?: { authorizer?: { iam?: { userArn?: string | null } | null } | null } | null;
}

/**
 * The caller's ARN as API Gateway authenticated it, or undefined when the event
 * carries none (then the handlers answer 403: fail closed).
 */
export function callerArnOf(event: ApiEvent): string | undefined {
  const arn = event.requestContext?.authorizer?.iam?.userArn;
  return typeof arn === 'string' && arn.length > 0 ? arn : undefined;
}

/** A path parameter of the route (`intentId`, `grantId`), or '' when absent. */
export function pathParameter(event: ApiEvent, name: string): string {
  return event.pathParameters?.[name] ?? '';
}

/** The agent id bound to the caller, or undefined when the caller is not a registered agent principal. */
export function agentForCaller(roles: AgentRoles, callerArn: string | null | undefined): string | undefined {
  if (!callerArn) return undefined;
  const key = principalKey(callerArn);
  return key ? roles.get(key) : undefined;
}

/** An HTTP answer of the API's Lambdas. */
export interface ApiAnswer {
  statusCode: number;
  body: Record<string, unknown>;
}

/** The 403 for a caller that is not a registered agent principal. */
export function notAnAgent(callerArn: string | null | undefined): ApiAnswer {
  return {
    statusCode: 403,
    body: {
      error: 'forbidden',
      message: `caller ${callerArn ?? '(unknown)'} is not a registered Countersign agent role`,
    },
  };
}
