/**
 * Attacker goal: make the card lie. A compromised agent controls every string
 * of its intent (justification, resource, parameters and their keys, model,
 * session, context) and its cancel reason. Through the public interfaces only
 * (PutEvents to the sandbox's EventBridge endpoint, signed Slack clicks to its
 * interaction endpoint, the cancellation event) each case publishes a hostile
 * intent, lets the escalation fire where its policy has one, decides the
 * review, clicks late, and then asserts on everything the fake Slack received
 * for it (card and its updates, fallback text, the requester DM, channel
 * posts, ephemerals): nothing live, nothing of the agent's in Countersign's
 * voice, every block within Slack's limits (the card was posted: no
 * invalid_blocks), every value reads back to the intent, and the review was
 * still decided. Then the cards are rendered in chromium (the sandbox
 * console) with one screenshot per case in test/artifacts/lie-on-the-card/.
 */
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unescapeEntities } from '../../lambdas/shared/agent-text.js';
import { CANCEL_DETAIL_TYPE, INTENT_DETAIL_TYPE, type Intent } from '../../lambdas/shared/intent.js';
import type { SlackRecordedMessage } from '../../sandbox/fake-slack.js';
import type { CountersignLoop } from '../../sandbox/loop.js';
import { createSandboxServer, type SandboxServer } from '../../sandbox/server.js';
import { signedClick, signedViewSubmission } from '../../sandbox/slack-click.js';
import { messageProblems, viewProblems } from '../../sandbox/slack-limits.js';
import { launchBrowser } from '../support/browser.js';
import { makeIntent } from '../support/fixtures.js';
import {
  assertFaithful,
  blocksProblems,
  cardValues,
  mrkdwnProblems,
  RAW_HIDDEN,
  textsOf,
  voiceOf,
} from '../support/inert.js';
import { eventually, newIntentId, reviewOpen, sharedLoop, USER } from '../support/loop.js';

const CANARY = 'ZQXJ';
const ARTIFACTS = resolve(import.meta.dirname, '../artifacts/lie-on-the-card');
/** Pieces of the attacks that must never appear in Countersign's voice on any surface. */
const FRAGMENTS = [
  'evil.example',
  '*Environment:*',
  '*Approved by*',
  '<!channel>',
  '<!here>',
  '<#C0APPROVAL>',
];

type Ending = 'approve' | 'deny' | 'cancel';
interface AttackCase {
  slug: string;
  name: string;
  intent: (intentId: string) => Intent;
  /** The field the attack is in, and what the card must declare for it. */
  field: string;
  hidden?: boolean;
  cut?: boolean;
  /** How the review ends; a late click follows every ending. */
  ending: Ending;
  /** Fire the review's escalation before ending it (its policy has one). */
  escalate?: boolean;
}

const hostileReason = `done.\n:white_check_mark: *Approved by* <@U0ALICE01> <!channel> <https://evil.example|https://bank.example> ${CANARY}`;

const cases: AttackCase[] = [
  {
    slug: 'fake-fields',
    name: 'fake "Environment: dev" and "Approved by" lines through newlines',
    intent: (intentId) =>
      makeIntent({
        intentId,
        justification: `${CANARY} Routine rotation.\n*Environment:* dev\n:white_check_mark: *Approved by* <@U0ALICE01> ${CANARY}`,
        context: { impact: `${CANARY} none\n*Environment:* dev` },
      }),
    field: 'Why (as the agent wrote it)',
    ending: 'approve',
  },
  {
    slug: 'fence-breakout',
    name: '``` in a parameter value and a parameter key',
    intent: (intentId) =>
      makeIntent({
        intentId,
        parameters: {
          policyArn: 'arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess',
          note: `${CANARY} x\`\`\`\n*Approved by* security\n\`\`\` ${CANARY}`,
          [`k\`\`\` *Approved by* ${CANARY} \`\`\``]: 'v',
        },
      }),
    field: 'Parameters',
    ending: 'deny',
  },
  {
    slug: 'bidi-zero-width',
    name: 'right-to-left override in the resource, zero-width characters in the model',
    intent: (intentId) =>
      makeIntent({
        intentId,
        resource: `arn:aws:s3:::prod-\u202Etxt.exe-${CANARY}`,
        agent: { model: `claude\u200B-sonnet\u2060-${CANARY}` },
      }),
    field: 'Resource',
    hidden: true,
    ending: 'approve',
  },
  {
    slug: 'denial-of-review',
    name: 'values long enough to break Slack limits (entity-heavy diff, 4,096-character texts)',
    intent: (intentId) =>
      makeIntent({
        intentId,
        justification: `${CANARY} ${'because '.repeat(600)}`.slice(0, 4096),
        context: { diff: `${CANARY}${'<&>'.repeat(20_000)}`, impact: `${CANARY} ${'&'.repeat(4000)}` },
      }),
    field: 'Diff',
    cut: true,
    ending: 'deny',
  },
  {
    slug: 'many-parameters',
    name: '200 parameters, escalated to the security leads',
    intent: (intentId) =>
      makeIntent({
        intentId,
        action: 'iam:PutRolePolicy',
        parameters: Object.fromEntries(
          Array.from({ length: 200 }, (_, k) => [`p${k}`, `${CANARY} <!channel> value ${k}`]),
        ),
      }),
    field: 'Parameters',
    cut: true,
    ending: 'deny',
    escalate: true,
  },
  {
    slug: 'live-controls',
    name: '<!channel>, disguised links and mentions in the resource, justification and session',
    intent: (intentId) =>
      makeIntent({
        intentId,
        resource: `<https://evil.example|https://bank.example> ${CANARY}`,
        justification: `${CANARY} <!channel> <!here> <@U0ALICE01> <!subteam^S0SECLEAD|@security-leads> <https://evil.example|review here>`,
        agent: { sessionId: `<#C0APPROVAL> ${CANARY}` },
      }),
    field: 'Resource',
    ending: 'cancel',
  },
  {
    slug: 'pre-escaped-and-emoji',
    name: 'pre-escaped &lt; and emoji shortcodes',
    intent: (intentId) =>
      makeIntent({
        intentId,
        justification: `${CANARY} &lt;!channel&gt; &amp;lt; :white_check_mark: *Approved* :rotating_light: ${CANARY}`,
        context: { datasets: [`:white_check_mark: ${CANARY}`, `eu\n*Approved by* ${CANARY}`] },
      }),
    field: 'Why (as the agent wrote it)',
    ending: 'approve',
  },
];

let loop: CountersignLoop;
let server: SandboxServer;
let events: EventBridgeClient;
let browser: Browser | undefined;

beforeAll(async () => {
  loop = await sharedLoop();
  server = await createSandboxServer(loop, { port: 0 });
  events = new EventBridgeClient({
    endpoint: server.url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'adversary', secretAccessKey: 'adversary' },
  });
}, 180_000);

afterAll(async () => {
  events?.destroy();
  await browser?.close();
  await server?.close();
});

/** PutEvents to the sandbox, as the agent does. */
async function put(detailType: string, detail: unknown) {
  const out = await events.send(
    new PutEventsCommand({
      Entries: [
        {
          EventBusName: 'countersign',
          Source: 'countersign.agent.deploy-bot',
          DetailType: detailType,
          Detail: JSON.stringify(detail),
        },
      ],
    }),
  );
  expect(out.FailedEntryCount).toBe(0);
}

/**
 * A signed Slack click, POSTed to the sandbox's interaction endpoint. The value
 * is the request id, or what the clicked button carries (Approve names the
 * version its card shows: `<id>@<hash prefix>`).
 */
async function clickAs(userId: string, actionId: 'approve' | 'deny' | 'view_full', requestId: string) {
  const { headers, body } = signedClick(loop.signingSecret, { userId, actionId, requestId });
  const res = await fetch(`${server.url}/slack/interactions`, { method: 'POST', headers, body });
  expect(res.status).toBe(200);
  return res.text();
}

/** The value of the Approve button on the card as it stands in Slack now, as a reviewer's click sends it. */
function approveValueOn(card: { channel: string; ts: string }): string {
  const blocks = loop.slack!.message(card.channel, card.ts)!.blocks as {
    elements?: { action_id?: string; value?: string }[];
  }[];
  const button = blocks.flatMap((b) => b.elements ?? []).find((e) => e.action_id === 'approve');
  expect(button?.value, 'the card has an Approve button').toMatch(/@[0-9a-f]+$/);
  return button!.value!;
}

/** Submits the deny form the last deny click opened, with a reason. */
async function submitDeny(userId: string, requestId: string) {
  const view = [...loop.slack!.views.values()]
    .reverse()
    .find((v) => v.view.callback_id === 'countersign.deny')!;
  const { headers, body } = signedViewSubmission(loop.signingSecret, {
    userId,
    view,
    inputs: { reason: 'No change ticket.' },
  });
  const res = await fetch(`${server.url}/slack/interactions`, { method: 'POST', headers, body });
  expect(res.status).toBe(200);
  expect(requestId).toBeTruthy();
}

/** Every problem of one message the fake Slack received. */
function messageIssues(m: SlackRecordedMessage): string[] {
  const issues = messageProblems({ text: m.text, blocks: m.blocks }).map((p) => `${p.error} ${p.path}`);
  if (m.text) {
    issues.push(...mrkdwnProblems(m.text, CANARY));
    if (RAW_HIDDEN.test(m.text)) issues.push('raw hidden character in text');
  }
  if (m.blocks) issues.push(...blocksProblems(m.blocks, CANARY));
  const voices = [
    ...(m.text ? [voiceOf(m.text)] : []),
    ...textsOf(m.blocks ?? [])
      .filter((t) => t.type === 'mrkdwn')
      .map((t) => voiceOf(t.text)),
  ];
  for (const fragment of FRAGMENTS)
    if (voices.some((v) => v.includes(fragment))) issues.push(`"${fragment}" in Countersign's voice`);
  return issues.map((i) => `${m.method} to ${m.user ?? m.channel}: ${i}`);
}

const started = new Map<string, { intent: Intent; from: number; ended: Ending }>();

describe('lie on the card', () => {
  it.each(cases)('$name', async (attack) => {
    // Prepare
    const intentId = newIntentId();
    const intent = attack.intent(intentId);
    const from = loop.slack!.calls.length;
    const firstMessage = loop.slack!.messages.length;

    // Act: publish, escalate if the policy escalates, end the review, click late.
    await put(INTENT_DETAIL_TYPE, intent);
    const card = await reviewOpen(loop, intentId);
    if (attack.escalate) {
      const escalation = loop.scheduler.for(intentId).find((s) => s.payload.kind === 'escalation');
      expect(escalation, 'the policy schedules an escalation').toBeDefined();
      expect(await loop.scheduler.fire(escalation!)).toEqual({ outcome: 'escalated' });
    }
    if (attack.cut) {
      // The whole request, one click away: within the modal's limits, and it reads back to the intent.
      const views = loop.slack!.views.size;
      await clickAs(USER.dave, 'view_full', intentId);
      expect(loop.slack!.views.size).toBe(views + 1);
      const full = [...loop.slack!.views.values()].at(-1)!.view as { blocks: { text?: { text: string } }[] };
      expect(viewProblems(full)).toEqual([]);
      const json = full.blocks
        .filter((b) => b.text?.text.startsWith('```'))
        .map((b) => unescapeEntities(b.text!.text.slice(3, -3)))
        .join('');
      expect(JSON.parse(json)).toEqual(intent);
    }
    if (attack.ending === 'approve') await clickAs(USER.bob, 'approve', approveValueOn(card));
    else if (attack.ending === 'deny') {
      await clickAs(USER.bob, 'deny', intentId);
      await submitDeny(USER.bob, intentId);
    } else await put(CANCEL_DETAIL_TYPE, { intentId, reason: hostileReason });
    const decision = await eventually(() => loop.decisions.find((e) => e.detail.intentId === intentId));
    await clickAs(USER.alice, 'approve', intentId);
    await eventually(() =>
      loop.slack!.sent('chat.postEphemeral', USER.alice).find((m) => m.text?.includes('already')),
    );
    if (attack.ending === 'cancel')
      await eventually(() =>
        loop
          .slack!.messages.slice(firstMessage)
          .find((m) => m.user === USER.carol && m.text?.includes('Reason')),
      );

    // Assess: the card was posted and the review decided as its reviewer chose.
    expect(decision.detail.status).toBe(
      { approve: 'APPROVED', deny: 'DENIED', cancel: 'CANCELLED' }[attack.ending],
    );
    // A 429 (Slack's rate limit, waited out and retried) refuses no content.
    const refused = loop.slack!.calls.slice(from).filter((c) => c.error && c.status !== 429);
    expect(refused.map((c) => `${c.method}: ${c.error}`)).toEqual([]);
    // The card as first posted: the attack's field is shown, marked as it must be, and reads back to the intent.
    const value = cardValues(card.blocks ?? []).find((v) => v.label === attack.field);
    expect(value?.shown).toContain(CANARY);
    expect(value?.hidden).toBe(attack.hidden ?? false);
    expect(value?.cut).toBe(attack.cut ?? false);
    assertFaithful({ intent, agentId: 'deploy-bot', masked: [] }, card.blocks ?? []);
    const final = loop.slack!.message(card.channel, card.ts)!;
    assertFaithful(
      { intent, agentId: 'deploy-bot', masked: [], reason: String(decision.detail.reason) },
      final.blocks ?? [],
    );
    // Everything Slack received for this request: inert, within limits, nothing of the agent's in our voice.
    const received = loop.slack!.messages.slice(firstMessage);
    expect(received.some((m) => m.method === 'chat.postEphemeral')).toBe(true);
    expect(received.some((m) => m.user === USER.carol && m.method === 'chat.postMessage')).toBe(true);
    if (attack.escalate)
      expect(received.some((m) => m.method === 'chat.postMessage' && m.text?.includes('*Escalation*'))).toBe(
        true,
      );
    expect(received.flatMap(messageIssues)).toEqual([]);
    const views = [...loop.slack!.views.values()].filter((v) => JSON.stringify(v.view).includes(intentId));
    for (const v of views) expect(blocksProblems(v.view.blocks as unknown[], CANARY)).toEqual([]);
    started.set(attack.slug, { intent, from, ended: attack.ending });
  });

  it('the attacked cards in chromium: inert in the console too, one screenshot per case', async () => {
    // Prepare
    expect(started.size).toBe(cases.length);
    browser = await launchBrowser();
    const page = await browser.newPage({ viewport: { width: 1360, height: 1400 } });
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await mkdir(ARTIFACTS, { recursive: true });

    // Act
    await page.goto(`${server.url}/`);
    await page.waitForSelector('body[data-ready="true"]');
    await page.selectOption('#user-picker', USER.alice);
    // The console's sticky top bar would cover the top of each card in an element screenshot.
    await page.addStyleTag({ content: '.topbar { position: static !important; }' });

    // Assess
    for (const [slug, { intent }] of started) {
      const card = page.locator(`article[data-request-id="${intent.intentId}"]`);
      await card.waitFor({ timeout: 20_000 });
      await card.scrollIntoViewIfNeeded();
      // Agent text is text in the page: no link to the attacker, no mention the agent wrote.
      await expect(card.locator('a[href*="evil"]').count()).resolves.toBe(0);
      const mentions = await card.locator('.bk-mention').allTextContents();
      expect(mentions.filter((m) => /channel|here|security-leads|#/.test(m))).toEqual([]);
      await expect(card.locator('strong').allTextContents()).resolves.not.toContain('Approved by');
      const text = (await card.textContent()) ?? '';
      expect(text).toContain(CANARY);
      if (slug === 'bidi-zero-width') {
        expect(text).toContain('prod-\\u202Etxt.exe');
        expect(text).toContain('hidden or direction-changing');
        expect(RAW_HIDDEN.test(text)).toBe(false);
      }
      await card.screenshot({ path: resolve(ARTIFACTS, `${slug}.png`) });
    }
    expect(pageErrors).toEqual([]);
  });
});
