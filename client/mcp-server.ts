#!/usr/bin/env -S npx tsx
/**
 * Countersign as an MCP server over stdio: an MCP client (Claude Desktop, an
 * IDE agent, any MCP host) gets two tools.
 *
 * - `request_approval`: the intent (input schema generated from the intent's
 *   zod schema; `intentId` optional) plus `waitSeconds`; publishes it as
 *   `countersign.agent.<COUNTERSIGN_AGENT_ID>` and, when `waitSeconds` > 0,
 *   waits for the decision.
 * - `get_approval_status`: status, decision and grant of a request.
 *
 * Configuration is the environment only, never tool input, so a model cannot
 * pick which agent it speaks for: `COUNTERSIGN_AGENT_ID` (required),
 * `COUNTERSIGN_EVENT_BUS`, `COUNTERSIGN_STATUS_URL`, and the standard AWS
 * variables (`AWS_PROFILE`, `AWS_REGION`, `AWS_ENDPOINT_URL_EVENTBRIDGE`, ...).
 *
 * Run: `npm run mcp` or `npx tsx client/mcp-server.ts`. Logs go to stderr;
 * stdout is the protocol.
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import * as z from 'zod/mini';
import { intentSchema } from '../lambdas/shared/intent.js';
import { DEFAULT_EVENT_BUS, getStatus, requestApproval } from './index.js';

/** Settings of the MCP server. */
export interface McpSettings {
  agentId: string;
  eventBusName: string;
  statusUrl?: string;
}

/** Reads the settings from the environment; throws naming the missing variable. */
export function settingsFromEnv(env: Record<string, string | undefined> = process.env): McpSettings {
  const agentId = env.COUNTERSIGN_AGENT_ID?.trim();
  if (!agentId) throw new Error('COUNTERSIGN_AGENT_ID is not set: the MCP server publishes as this agent');
  const statusUrl = env.COUNTERSIGN_STATUS_URL?.trim();
  return {
    agentId,
    eventBusName: env.COUNTERSIGN_EVENT_BUS?.trim() || DEFAULT_EVENT_BUS,
    ...(statusUrl ? { statusUrl } : {}),
  };
}

/** Input schema of `request_approval`: the intent, `intentId` optional, plus how long to wait. */
export const requestApprovalInput = z.extend(z.partial(intentSchema, { intentId: true }), {
  waitSeconds: z.optional(
    z
      .number()
      .check(
        z.int(),
        z.minimum(0),
        z.maximum(900),
        z.describe('Seconds to wait for the decision (0 or absent: return at once with the intent id)'),
      ),
  ),
});

/** Input schema of `get_approval_status`. */
export const getApprovalStatusInput = z.object({ intentId: intentSchema.shape.intentId });

type ToolResult = {
  content: { type: 'text'; text: string }[];
  structuredContent?: Record<string, unknown>;
  isError?: boolean;
};

const result = (text: string, structured: Record<string, unknown>): ToolResult => ({
  content: [{ type: 'text', text: `${text}\n${JSON.stringify(structured, null, 2)}` }],
  structuredContent: structured,
});
const failure = (error: unknown): ToolResult => ({
  content: [{ type: 'text', text: `${(error as Error).name ?? 'Error'}: ${(error as Error).message}` }],
  isError: true,
});

/** Builds the MCP server (not yet connected). */
export function createMcpServer(settings: McpSettings): McpServer {
  const server = new McpServer({ name: 'countersign', version: '0.1.0' });

  server.registerTool(
    'request_approval',
    {
      title: 'Request a human countersignature',
      description:
        'Ask humans to approve a privileged action before you run it. Returns the intent id; with waitSeconds, waits for the decision. Run the action only when the decision is APPROVED, with exactly the approved parameters, after consuming the single-use grant.',
      inputSchema: requestApprovalInput,
    },
    async (input) => {
      try {
        const { waitSeconds, ...intent } = input;
        const wait = (waitSeconds ?? 0) > 0;
        if (wait && !settings.statusUrl) throw new Error('waitSeconds needs COUNTERSIGN_STATUS_URL');
        const out = await requestApproval(intent, {
          agentId: settings.agentId,
          eventBusName: settings.eventBusName,
          ...(settings.statusUrl ? { statusUrl: settings.statusUrl } : {}),
          ...(wait ? { wait: { timeoutMs: (waitSeconds ?? 0) * 1000 } } : {}),
        });
        const structured = {
          intentId: out.intentId,
          intentHash: out.intentHash,
          status: out.decision?.status ?? 'PENDING',
          ...(out.decision ? { decision: out.decision } : {}),
          ...(out.timedOut ? { timedOut: true } : {}),
        };
        const text = out.decision
          ? `Decision for ${out.intentId}: ${out.decision.status} (${out.decision.reason})`
          : `Requested approval ${out.intentId}; status PENDING. Check with get_approval_status.`;
        return result(text, structured);
      } catch (error) {
        return failure(error);
      }
    },
  );

  server.registerTool(
    'get_approval_status',
    {
      title: 'Get the status of an approval request',
      description:
        'Status (PENDING, APPROVED, DENIED, EXPIRED, CANCELLED), decision and grant of a request you made.',
      inputSchema: getApprovalStatusInput,
    },
    async ({ intentId }) => {
      try {
        if (!settings.statusUrl) throw new Error('COUNTERSIGN_STATUS_URL is not set');
        const status = await getStatus(intentId, { statusUrl: settings.statusUrl });
        if (!status)
          return result(`No request ${intentId} yet (or not yours).`, { intentId, status: 'NOT_FOUND' });
        return result(`Request ${intentId}: ${status.status}`, status as unknown as Record<string, unknown>);
      } catch (error) {
        return failure(error);
      }
    },
  );
  return server;
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('mcp-server.ts')) {
  try {
    const server = createMcpServer(settingsFromEnv());
    await server.connect(new StdioServerTransport());
    process.stderr.write('countersign MCP server ready on stdio\n');
  } catch (error) {
    process.stderr.write(`countersign MCP server: ${(error as Error).message}\n`);
    process.exit(1);
  }
}
