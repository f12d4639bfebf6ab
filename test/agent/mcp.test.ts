/** The MCP server driven over stdio by the MCP client SDK, publishing to a local PutEvents endpoint. */
import * as path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../lib/handler-function.js';
import { makeIntent } from '../support/fixtures.js';
import { type FakeEndpoint, startFakeEndpoint } from './fake-endpoint.js';

let endpoint: FakeEndpoint;
let client: Client;

beforeAll(async () => {
  endpoint = await startFakeEndpoint();
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '/tmp',
    COUNTERSIGN_AGENT_ID: 'deploy-bot',
    COUNTERSIGN_STATUS_URL: endpoint.url,
    AWS_ENDPOINT_URL_EVENTBRIDGE: endpoint.url,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'AKIDMCPTEST',
    AWS_SECRET_ACCESS_KEY: 'mcp-test-secret',
  };
  client = new Client({ name: 'countersign-test', version: '0.0.0' });
  await client.connect(
    new StdioClientTransport({
      command: path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx'),
      args: [path.join(REPO_ROOT, 'client', 'mcp-server.ts')],
      env,
      cwd: REPO_ROOT,
      stderr: 'pipe',
    }),
  );
}, 60_000);

afterAll(async () => {
  await client?.close();
  await endpoint?.close();
});

describe('MCP server over stdio', () => {
  it('lists request_approval (input schema from the intent schema) and get_approval_status', async () => {
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(['get_approval_status', 'request_approval']);
    const request = tools.find((t) => t.name === 'request_approval')!;
    const schema = request.inputSchema as { properties: Record<string, unknown>; required?: string[] };
    expect(Object.keys(schema.properties)).toEqual(
      expect.arrayContaining([
        'intentId',
        'action',
        'resource',
        'environment',
        'justification',
        'parameters',
        'agent',
        'waitSeconds',
      ]),
    );
    expect(schema.required).toEqual(
      expect.arrayContaining(['action', 'resource', 'environment', 'justification', 'parameters', 'agent']),
    );
    expect(schema.required).not.toContain('intentId');
    expect(JSON.stringify(schema.properties.agent)).toContain('onBehalfOf');
  });

  it('request_approval publishes as the configured agent and returns text plus structured JSON', async () => {
    const { intentId: _id, ...intent } = makeIntent();
    const result = await client.callTool({ name: 'request_approval', arguments: intent });
    expect(result.isError).toBeFalsy();
    const structured = result.structuredContent as { intentId: string; intentHash: string; status: string };
    expect(structured).toMatchObject({ status: 'PENDING', intentHash: expect.stringMatching(/^sha256:/) });
    expect((result.content as { type: string; text: string }[])[0]!.text).toContain(structured.intentId);
    expect(endpoint.deliveriesOf(structured.intentId)).toBe(1);
    expect(endpoint.delivered.at(-1)?.Source).toBe('countersign.agent.deploy-bot');
  });

  it('request_approval reports a validation error naming the field, and sends nothing', async () => {
    const before = endpoint.delivered.length;
    const { intentId: _id, ...intent } = makeIntent();
    const result = await client.callTool({
      name: 'request_approval',
      arguments: { ...intent, environment: 'Prod Env' },
    });
    expect(result.isError).toBe(true);
    expect(JSON.stringify(result.content)).toContain('environment');
    expect(endpoint.delivered.length).toBe(before);
  });

  it('get_approval_status reads the status API', async () => {
    endpoint.setStatus('intent-mcp-00001', () => ({
      status: 200,
      body: {
        intentId: 'intent-mcp-00001',
        agentId: 'deploy-bot',
        status: 'PENDING',
        decision: null,
        grant: null,
      },
    }));
    const found = await client.callTool({
      name: 'get_approval_status',
      arguments: { intentId: 'intent-mcp-00001' },
    });
    expect(found.structuredContent).toMatchObject({ intentId: 'intent-mcp-00001', status: 'PENDING' });
    const missing = await client.callTool({
      name: 'get_approval_status',
      arguments: { intentId: 'intent-mcp-00002' },
    });
    expect(missing.structuredContent).toMatchObject({ status: 'NOT_FOUND' });
  });
});
