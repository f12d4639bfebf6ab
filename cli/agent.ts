/**
 * The agent commands of `countersign`: `request`, `status <id>`, `wait <id>`
 * and `grant consume <id>`. They use the standard AWS credential chain and the
 * SDK's endpoint variables (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_EVENTBRIDGE`),
 * so the same commands work against the local sandbox.
 *
 * Exit codes: 0 approved / ok, 1 denied, expired, refused or an error, 2 bad usage.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import {
  type ConsumeGrantResult,
  consumeGrant,
  DEFAULT_EVENT_BUS,
  type DecisionDetail,
  getStatus,
  requestApproval,
  waitForDecision,
} from '../client/index.js';
import { parseStrictJson } from '../lambdas/shared/strict-json.js';
import type { CliIo, CommandModule } from './main.js';
import { UsageError } from './main.js';

/** Settings every agent command reads from flags, then the environment. */
interface Common {
  agentId: string | undefined;
  bus: string;
  statusUrl: string | undefined;
}

const COMMON_OPTIONS = {
  agent: { type: 'string' },
  bus: { type: 'string' },
  'status-url': { type: 'string' },
} as const;

function common(values: { agent?: string; bus?: string; 'status-url'?: string }): Common {
  return {
    agentId: values.agent ?? process.env.COUNTERSIGN_AGENT_ID,
    bus: values.bus ?? process.env.COUNTERSIGN_EVENT_BUS ?? DEFAULT_EVENT_BUS,
    statusUrl: values['status-url'] ?? process.env.COUNTERSIGN_STATUS_URL,
  };
}

function needStatusUrl(c: Common): string {
  if (!c.statusUrl) {
    throw new UsageError(
      'no status API: pass --status-url or set COUNTERSIGN_STATUS_URL (stack output StatusApiUrl; sandbox http://127.0.0.1:4010)',
    );
  }
  return c.statusUrl;
}

function timeoutMs(raw: string | undefined, fallbackSeconds: number): number {
  if (raw === undefined) return fallbackSeconds * 1000;
  const seconds = Number(raw);
  if (!Number.isFinite(seconds) || seconds <= 0)
    throw new UsageError(`--timeout must be a positive number of seconds, got "${raw}"`);
  return seconds * 1000;
}

/** Prints a decision and maps it to the exit code. */
function reportDecision(io: CliIo, decision: DecisionDetail): number {
  io.out(JSON.stringify(decision, null, 2));
  if (decision.status === 'APPROVED') {
    io.err(
      `APPROVED${decision.grant ? `: grant ${decision.grant.grantId} (single use, expires ${decision.grant.expiresAt})` : ''}`,
    );
    return 0;
  }
  io.err(`${decision.status}: ${decision.reason}`);
  return 1;
}

/** Parses `--param key=value` (a string) and `--param key:=json` (any JSON value). */
export function parseParams(pairs: string[]): Record<string, unknown> {
  const parameters: Record<string, unknown> = {};
  for (const pair of pairs) {
    const json = /^([^=:]+):=(.*)$/s.exec(pair);
    const text = /^([^=]+)=(.*)$/s.exec(pair);
    if (json) {
      const parsed = parseStrictJson(json[2]!);
      if (!parsed.ok)
        throw new UsageError(`--param ${json[1]}:= needs a JSON value (${parsed.reason}), got ${json[2]}`);
      parameters[json[1]!] = parsed.value;
    } else if (text) {
      parameters[text[1]!] = text[2]!;
    } else {
      throw new UsageError(`--param must be key=value or key:=json, got "${pair}"`);
    }
  }
  return parameters;
}

const REQUEST_USAGE = `usage: countersign request (--file intent.json | --action A --resource R --environment E --justification J
                            [--param k=v | --param k:=json ...] --model M --session S --on-behalf-of EMAIL --owner EMAIL)
                           [--intent-id ID] --agent ID [--bus countersign] [--wait [--timeout 900] --status-url URL]

Publishes an intent ("Privileged Action Requested") as countersign.agent.<agent>. The intent is
validated locally first (errors name the field; over 256 KiB is refused before sending). Prints the
intent id and hash; with --wait, polls the status API and prints the decision.

  --agent        agent id (env COUNTERSIGN_AGENT_ID); your role must be bound to it
  --bus          event bus (env COUNTERSIGN_EVENT_BUS, default countersign)
  --status-url   status API (env COUNTERSIGN_STATUS_URL; sandbox http://127.0.0.1:4010)
  --timeout      seconds to wait with --wait (default 900)

Exit: 0 published (with --wait: approved), 1 denied/expired/timed out/error, 2 usage.`;

/** `countersign request`. */
export const request: CommandModule = {
  usage: REQUEST_USAGE,
  async run(argv, io) {
    const { values } = parseArgs({
      args: argv,
      options: {
        ...COMMON_OPTIONS,
        file: { type: 'string', short: 'f' },
        'intent-id': { type: 'string' },
        action: { type: 'string' },
        resource: { type: 'string' },
        environment: { type: 'string' },
        justification: { type: 'string' },
        param: { type: 'string', multiple: true },
        model: { type: 'string' },
        session: { type: 'string' },
        'on-behalf-of': { type: 'string' },
        owner: { type: 'string' },
        wait: { type: 'boolean' },
        timeout: { type: 'string' },
      },
      strict: true,
    });
    const c = common(values);
    if (!c.agentId) throw new UsageError('--agent (or COUNTERSIGN_AGENT_ID) is required');
    let intent: Record<string, unknown>;
    if (values.file !== undefined) {
      const path = resolve(io.cwd, values.file);
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch (error) {
        throw new UsageError(`cannot read ${values.file}: ${(error as Error).message}`);
      }
      const parsed = parseStrictJson(text);
      if (!parsed.ok) throw new Error(`${values.file}: ${parsed.reason}`);
      intent = parsed.value as Record<string, unknown>;
      if (values['intent-id']) intent.intentId = values['intent-id'];
    } else {
      if (!values.action)
        throw new UsageError('give --file intent.json, or --action and the other intent flags');
      const agent = {
        model: values.model,
        sessionId: values.session,
        onBehalfOf: values['on-behalf-of'],
        owner: values.owner,
      };
      intent = {
        ...(values['intent-id'] ? { intentId: values['intent-id'] } : {}),
        action: values.action,
        resource: values.resource,
        environment: values.environment,
        justification: values.justification,
        parameters: parseParams(values.param ?? []),
        agent: Object.fromEntries(Object.entries(agent).filter(([, v]) => v !== undefined)),
      };
    }
    const statusUrl = values.wait ? needStatusUrl(c) : c.statusUrl;
    const result = await requestApproval(intent, {
      // One client per run: the SDK reads AWS_ENDPOINT_URL(_EVENTBRIDGE), region and credentials now.
      eventBridge: new EventBridgeClient({}),
      agentId: c.agentId,
      eventBusName: c.bus,
      ...(statusUrl ? { statusUrl } : {}),
      ...(values.wait ? { wait: { timeoutMs: timeoutMs(values.timeout, 900) } } : {}),
    });
    io.err(
      `requested ${result.intentId} (${result.intentHash}) on bus ${c.bus} as countersign.agent.${c.agentId}`,
    );
    if (!values.wait) {
      io.out(
        JSON.stringify({ intentId: result.intentId, intentHash: result.intentHash, eventId: result.eventId }),
      );
      return 0;
    }
    if (!result.decision) {
      io.out(JSON.stringify({ intentId: result.intentId, intentHash: result.intentHash, status: 'PENDING' }));
      io.err(
        `no decision within ${values.timeout ?? 900} s; check later with: countersign status ${result.intentId}`,
      );
      return 1;
    }
    return reportDecision(io, result.decision);
  },
};

/** `countersign status <id>`. */
export const status: CommandModule = {
  usage: `usage: countersign status <intentId> [--status-url URL]

Prints the request's status, decision and grant as JSON.
Exit: 0 found, 1 not found (or not yours) or an error, 2 usage.`,
  async run(argv, io) {
    const { values, positionals } = parseArgs({
      args: argv,
      options: COMMON_OPTIONS,
      allowPositionals: true,
    });
    const [intentId, ...extra] = positionals;
    if (!intentId || extra.length > 0) throw new UsageError('give exactly one intent id');
    const found = await getStatus(intentId, { statusUrl: needStatusUrl(common(values)) });
    if (!found) {
      io.err(`no request ${intentId} (not yet recorded, or not this agent's)`);
      return 1;
    }
    io.out(JSON.stringify(found, null, 2));
    return 0;
  },
};

/** `countersign wait <id>`. */
export const wait: CommandModule = {
  usage: `usage: countersign wait <intentId> [--timeout 900] [--status-url URL]

Polls the status API (with backoff) until the request is decided; prints the decision.
Exit: 0 approved, 1 denied/expired/cancelled/timed out/error, 2 usage.`,
  async run(argv, io) {
    const { values, positionals } = parseArgs({
      args: argv,
      options: { ...COMMON_OPTIONS, timeout: { type: 'string' } },
      allowPositionals: true,
    });
    const [intentId, ...extra] = positionals;
    if (!intentId || extra.length > 0) throw new UsageError('give exactly one intent id');
    const decision = await waitForDecision(intentId, {
      statusUrl: needStatusUrl(common(values)),
      timeoutMs: timeoutMs(values.timeout, 900),
    });
    return reportDecision(io, decision);
  },
};

/** `countersign grant consume <id>`. */
export const grant: CommandModule = {
  usage: `usage: countersign grant consume <grantId> [--agent ID] [--status-url URL]

Spends a single-use grant, right before running the approved action. One conditional write:
a second consume fails, and so does a consume after expiry. Audited on the request's trail.
Through the status API (POST /grants/<id>/consume, SigV4) by default; directly against
DynamoDB when COUNTERSIGN_TABLE_NAME is set (sandbox and tests: also AWS_ENDPOINT_URL_DYNAMODB,
and --agent or COUNTERSIGN_AGENT_ID).
Exit: 0 consumed, 1 refused (already consumed, expired, unknown) or an error, 2 usage.`,
  async run(argv, io) {
    const { values, positionals } = parseArgs({
      args: argv,
      options: COMMON_OPTIONS,
      allowPositionals: true,
    });
    const [verb, grantId, ...extra] = positionals;
    if (verb !== 'consume')
      throw new UsageError(`unknown grant subcommand "${verb ?? ''}" (expected: consume)`);
    if (!grantId || extra.length > 0) throw new UsageError('give exactly one grant id');
    const c = common(values);
    const result = await consumeVia(grantId, c);
    if (!result.ok) {
      io.err(`refused (${result.reason}): ${result.message}`);
      return 1;
    }
    io.out(JSON.stringify(result.grant, null, 2));
    io.err(`consumed grant ${grantId} for ${result.grant.intentId}: run the approved action now`);
    return 0;
  },
};

async function consumeVia(grantId: string, c: Common): Promise<ConsumeGrantResult> {
  const table = process.env.COUNTERSIGN_TABLE_NAME?.trim();
  if (!table) return consumeGrant(grantId, { statusUrl: needStatusUrl(c) });
  if (!c.agentId)
    throw new UsageError('direct consume (COUNTERSIGN_TABLE_NAME set) needs --agent or COUNTERSIGN_AGENT_ID');
  const { createDocumentClient } = await import('../lambdas/shared/aws.js');
  return consumeGrant(grantId, { agentId: c.agentId, direct: { ddb: createDocumentClient(), table } });
}
