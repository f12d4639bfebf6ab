/**
 * The client propagates the caller's trace: `requestApproval` is a child span
 * of the agent's active span in the agent's own OpenTelemetry provider, the
 * intent carries it as `context.traceparent`, and Countersign's review span
 * (received by the sandbox's OTLP receiver) is that span's child. The result
 * and the decision name the same trace.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import {
  type Context,
  type ContextManager,
  context,
  ROOT_CONTEXT,
  type SpanContext,
  TraceFlags,
  trace,
} from '@opentelemetry/api';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestApproval } from '../../client/index.js';
import { withTraceContext } from '../../client/trace.js';
import type { CountersignLoop } from '../../sandbox/loop.js';
import { createSandboxServer, type SandboxServer } from '../../sandbox/server.js';
import { makeIntent } from '../support/fixtures.js';
import { click, eventually, reviewOpen, sharedLoop, USER } from '../support/loop.js';

/** The async-context manager an agent's OpenTelemetry setup registers (AsyncLocalStorage). */
class StorageContextManager implements ContextManager {
  private readonly storage = new AsyncLocalStorage<Context>();
  active = () => this.storage.getStore() ?? ROOT_CONTEXT;
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    ctx: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    return this.storage.run(ctx, () => fn.call(thisArg, ...args));
  }
  bind<T>(_ctx: Context, target: T): T {
    return target;
  }
  enable = () => this;
  disable = () => {
    this.storage.disable();
    return this;
  };
}

let loop: CountersignLoop;
let server: SandboxServer;
const spans = new InMemorySpanExporter();

beforeAll(async () => {
  loop = await sharedLoop();
  server = await createSandboxServer(loop, { port: 0 });
  context.setGlobalContextManager(new StorageContextManager());
  trace.setGlobalTracerProvider(
    new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] }),
  );
});
afterAll(async () => {
  // Other test files share this process: leave no provider behind.
  trace.disable();
  context.disable();
  await server?.close();
});

describe('requestApproval propagates the caller’s trace', () => {
  it('the review continues the agent trace under the client span', async () => {
    // Prepare
    const intent = makeIntent();
    const eventBridge = new EventBridgeClient({
      endpoint: server.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'sandbox', secretAccessKey: 'sandbox' },
    });
    const tracer = trace.getTracer('agent');
    // Act
    const { result, agentSpan } = await tracer.startActiveSpan('agent.run', async (span) => {
      const approver = (async () => {
        await reviewOpen(loop, intent.intentId);
        await click(loop, USER.alice, 'approve', intent.intentId);
      })();
      const out = await requestApproval(intent, {
        agentId: 'deploy-bot',
        eventBridge,
        statusUrl: server.url,
        wait: { timeoutMs: 20_000, poll: { baseDelayMs: 20, maxDelayMs: 200 } },
      });
      await approver;
      span.end();
      return { result: out, agentSpan: span.spanContext() };
    });
    // Assess: the client span, child of the agent's
    const client = spans.getFinishedSpans().find((s) => s.name === 'countersign.request_approval')!;
    expect(client.spanContext().traceId).toBe(agentSpan.traceId);
    expect(client.parentSpanContext?.spanId).toBe(agentSpan.spanId);
    expect(client.attributes).toMatchObject({
      'countersign.request_id': intent.intentId,
      'countersign.outcome': 'APPROVED',
      'countersign.trace_id': agentSpan.traceId,
    });
    // Assess: the result and the decision name the agent's trace
    expect(result.traceId).toBe(agentSpan.traceId);
    expect(result.decision?.traceId).toBe(agentSpan.traceId);
    // Assess: Countersign's review span is the client span's child
    const root = await eventually(() =>
      loop.traces!.trace(agentSpan.traceId).find((s) => s.name === 'countersign.review'),
    );
    expect(root.parentSpanId).toBe(client.spanContext().spanId);
  });
});

describe('withTraceContext', () => {
  const span: SpanContext = {
    traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
    spanId: '00f067aa0ba902b7',
    traceFlags: TraceFlags.SAMPLED,
  };

  it('adds the span as traceparent, keeping the rest of the context', () => {
    const intent = makeIntent({ context: { impact: 'one role' } });
    expect(withTraceContext(intent, span).context).toEqual({
      impact: 'one role',
      traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    });
  });

  it('a traceparent the caller set stands; no real span (no SDK) changes nothing', () => {
    const own = makeIntent({
      context: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' },
    });
    expect(withTraceContext(own, span)).toBe(own);
    const plain = makeIntent();
    expect(
      withTraceContext(plain, trace.wrapSpanContext({ ...span, traceId: '0'.repeat(32) }).spanContext()),
    ).toBe(plain);
  });
});
