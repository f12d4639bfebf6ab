/**
 * Slack's limits: at most 50 blocks with the buttons kept, long text truncated
 * with a "View full request" modal (masked), button values under 2,000
 * characters, and chat.postMessage queued and retried after a 429 using
 * Retry-After (the WebClient, against the fake Slack).
 */
import type { KnownBlock } from '@slack/types';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fullRequestModal } from '../../lambdas/interaction/modals.js';
import { fitBlocks, MAX_BLOCKS, MAX_BUTTON_VALUE, renderCard } from '../../lambdas/shared/card.js';
import { createSlackClient } from '../../lambdas/shared/slack.js';
import type { RequestItem } from '../../lambdas/shared/store.js';
import {
  FAKE_SLACK_TOKEN,
  loadDirectory,
  type RunningFakeSlack,
  startFakeSlack,
} from '../../sandbox/fake-slack.js';
import type { CountersignLoop } from '../../sandbox/loop.js';
import { makeIntent, makeReviewPlan } from '../support/fixtures.js';
import {
  click,
  decisionFor,
  denyWithReason,
  eventually,
  newIntentId,
  openedView,
  publish,
  reviewOpen,
  sharedLoop,
  USER,
} from '../support/loop.js';

type Button = { type: string; action_id: string; value: string };
const buttonsOf = (blocks: unknown[]) =>
  (blocks as { type: string; elements?: Button[] }[])
    .filter((b) => b.type === 'actions')
    .flatMap((b) => b.elements ?? []);

function pendingRequest(overrides: Partial<RequestItem> = {}, intent = makeIntent()): RequestItem {
  return {
    pk: `REQUEST#${intent.intentId}`,
    sk: 'REQUEST',
    intentId: intent.intentId,
    agentId: 'deploy-bot',
    source: 'countersign.agent.deploy-bot',
    status: 'PENDING',
    intent,
    intentHash: 'sha256:0000000000000000000000000000000000000000000000000000000000000000',
    createdAt: '2026-01-01T00:00:00.000Z',
    expiresAt: '2026-01-01T01:00:00.000Z',
    review: makeReviewPlan({ editable: ['rowLimit'], breakGlass: true }),
    approvals: [],
    voterIds: [],
    ...overrides,
  };
}

describe('card limits (pure)', () => {
  it('button values stay under 2,000 characters, even for the longest request id', () => {
    const longest = `i${'x'.repeat(127)}`;
    const intent = makeIntent({ intentId: longest, context: { urgency: 'urgent' } });
    const { blocks } = renderCard(pendingRequest({}, intent));
    const buttons = buttonsOf(blocks);
    expect(buttons.map((b) => b.action_id)).toEqual(['approve', 'modify', 'deny', 'breakglass']);
    for (const b of buttons) {
      // Approve also carries the start of the intent hash its card shows (`<id>@<16 hex>`).
      expect(b.value).toMatch(
        b.action_id === 'approve' ? new RegExp(`^${longest}@[0-9a-f]{16}$`) : new RegExp(`^${longest}$`),
      );
      expect(b.value.length).toBeLessThan(MAX_BUTTON_VALUE);
    }
  });

  it('never more than 50 blocks: the middle gives way, the first blocks and the buttons stay', () => {
    const many = Array.from(
      { length: 80 },
      (_, i) => ({ type: 'section', text: { type: 'mrkdwn', text: `block ${i}` } }) as KnownBlock,
    );
    const actions = { type: 'actions', elements: [] } as unknown as KnownBlock;
    const fitted = fitBlocks(many, actions);
    expect(fitted).toHaveLength(MAX_BLOCKS);
    expect(fitted[0]).toBe(many[0]);
    expect(fitted.at(-1)).toBe(actions);
    expect(JSON.stringify(fitted.at(-2))).toContain('View full request');
    expect(fitBlocks(many.slice(0, 10), actions)).toHaveLength(11);
  });

  it('long text is truncated on the card, with a View full request button; the modal shows it all, masked', () => {
    const justification = `${'Because the quarterly reconciliation needs it. '.repeat(80)}END-OF-JUSTIFICATION`;
    const intent = makeIntent({
      justification: justification.slice(0, 4096),
      parameters: { connectionString: 'postgres://app:hunter2@db.internal/x', rows: 'y'.repeat(5000) },
    });
    const request = pendingRequest({}, intent);
    const { blocks } = renderCard(request);
    const text = JSON.stringify(blocks);
    expect(blocks.length).toBeLessThanOrEqual(MAX_BLOCKS);
    expect(text).toContain(':scissors: _cut: ');
    expect(text).not.toContain('END-OF-JUSTIFICATION');
    expect(buttonsOf(blocks).map((b) => b.action_id)).toContain('view_full');
    for (const block of blocks as { text?: { text: string } }[]) {
      if (block.text) expect(block.text.text.length).toBeLessThanOrEqual(3000);
    }
    const modal = JSON.stringify(fullRequestModal(request, intent));
    expect(modal).toContain('END-OF-JUSTIFICATION');
    expect(modal).toContain('postgres://app:****@db.internal');
    expect(modal).not.toContain('hunter2');
    expect(fullRequestModal(request, intent).blocks.length).toBeLessThanOrEqual(100);
  });

  it('a short card has no View full request button', () => {
    expect(buttonsOf(renderCard(pendingRequest()).blocks).map((b) => b.action_id)).not.toContain('view_full');
  });
});

describe('View full request through the workflow', () => {
  let loop: CountersignLoop;
  beforeAll(async () => {
    loop = await sharedLoop();
  });

  it('opens a modal with the whole (masked) intent', async () => {
    const intent = makeIntent({
      intentId: newIntentId(),
      parameters: {
        password: 'hunter2',
        policyDocument: `{"Statement":[${'{"Effect":"Allow"},'.repeat(250)}{}]}`,
      },
    });
    publish(loop, intent);
    const card = await reviewOpen(loop, intent.intentId);
    expect(buttonsOf(card.blocks ?? []).map((b) => b.action_id)).toContain('view_full');
    await click(loop, USER.dave, 'view_full', intent.intentId);
    const view = openedView(loop, 'countersign.full')!;
    // The modal's code blocks, joined, are the whole intent (masked) as JSON.
    const shown = (view.view.blocks as { text?: { text: string } }[])
      .filter((b) => b.text?.text.startsWith('```'))
      .map((b) => b.text!.text.replace(/```/g, ''))
      .join('')
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&amp;/g, '&');
    const full = JSON.parse(shown) as { parameters: Record<string, string> };
    expect(full.parameters.policyDocument).toBe(intent.parameters.policyDocument);
    expect(full.parameters.password).toBe('****');
    await denyWithReason(loop, USER.bob, intent.intentId);
    await eventually(() => decisionFor(loop, intent.intentId));
  });
});

describe('the fake Slack refuses what Slack refuses (a card over the limits is a denial of review)', () => {
  let slack: RunningFakeSlack;
  beforeAll(async () => {
    slack = await startFakeSlack({ directory: loadDirectory() });
  });
  afterAll(async () => {
    await slack.close();
  });

  const section = (text: string) => ({ type: 'section', text: { type: 'mrkdwn', text } });

  it.each([
    ['a section over 3,000 characters', { blocks: [section('x'.repeat(3001))] }, 'invalid_blocks'],
    ['51 blocks', { blocks: Array.from({ length: 51 }, () => section('x')) }, 'invalid_blocks'],
    [
      '11 fields',
      {
        blocks: [
          { type: 'section', fields: Array.from({ length: 11 }, () => ({ type: 'plain_text', text: 'x' })) },
        ],
      },
      'invalid_blocks',
    ],
    [
      'a header over 150 characters',
      { blocks: [{ type: 'header', text: { type: 'plain_text', text: 'h'.repeat(151) } }] },
      'invalid_blocks',
    ],
    [
      'a mrkdwn header',
      { blocks: [{ type: 'header', text: { type: 'mrkdwn', text: '*h*' } }] },
      'invalid_blocks',
    ],
    [
      'blocks carrying 12,001 characters',
      { blocks: Array.from({ length: 5 }, () => section('y'.repeat(2401))) },
      'msg_blocks_too_long',
    ],
    ['text over 40,000 characters', { text: 'z'.repeat(40_001) }, 'msg_too_long'],
  ])('%s: %s', async (_name, content, error) => {
    // Prepare
    const client = createSlackClient(FAKE_SLACK_TOKEN, slack.url);
    const before = slack.messages.length;

    // Act
    const sent = client.chat.postMessage({ channel: 'C0APPROVAL', text: 'fallback', ...content } as never);

    // Assess
    await expect(sent).rejects.toMatchObject({ data: { ok: false, error } });
    expect(slack.messages.length).toBe(before);
  });

  it('a modal over 100 blocks or with a 25-character title is refused', async () => {
    const client = createSlackClient(FAKE_SLACK_TOKEN, slack.url);
    const view = (title: string, n: number) => ({
      type: 'modal' as const,
      title: { type: 'plain_text' as const, text: title },
      blocks: Array.from({ length: n }, () => section('x')) as KnownBlock[],
    });
    await expect(client.views.open({ trigger_id: 't', view: view('ok', 101) })).rejects.toMatchObject({
      data: { error: 'invalid_arguments' },
    });
    await expect(client.views.open({ trigger_id: 't', view: view('t'.repeat(25), 1) })).rejects.toMatchObject(
      {
        data: { error: 'invalid_arguments' },
      },
    );
    await expect(client.views.open({ trigger_id: 't', view: view('ok', 100) })).resolves.toMatchObject({
      ok: true,
    });
  });
});

describe('chat.postMessage backs off on 429 using Retry-After', () => {
  let slack: RunningFakeSlack;
  beforeAll(async () => {
    slack = await startFakeSlack({ directory: loadDirectory() });
  });
  afterAll(async () => {
    await slack.close();
  });

  it('queued messages wait Retry-After, then all go through once', async () => {
    // Prepare
    const client = createSlackClient(FAKE_SLACK_TOKEN, slack.url);
    slack.setRateLimit('chat.postMessage', 1, 1);
    const started = Date.now();

    // Act
    const results = await Promise.all(
      ['one', 'two', 'three'].map((text) => client.chat.postMessage({ channel: 'C0APPROVAL', text })),
    );

    // Assess
    expect(results.every((r) => r.ok)).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    const calls = slack.calls.filter((c) => c.method === 'chat.postMessage');
    expect(calls.filter((c) => c.status === 429)).toHaveLength(1);
    expect(calls.filter((c) => c.status === 200)).toHaveLength(3);
    expect(
      slack
        .sent('chat.postMessage')
        .map((m) => m.text)
        .sort(),
    ).toEqual(['one', 'three', 'two']);
  });
});
