/**
 * Attacker goal: starve reviews — make the review of a request (its own or
 * another agent's) never reach a human, or end without one. A compromised
 * agent sends values sized to make Slack refuse the card, floods the bus with
 * one intent id, or cancels another agent's request. Safe outcome: every
 * card stays within Slack's Block Kit limits and is posted, every flooded
 * event ends once (the first reviewed, the rest refused and audited), another
 * agent's cancellation is refused and audited, and the review goes on.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SlackRecordedMessage } from '../../sandbox/fake-slack.js';
import { makeIntent } from '../support/fixtures.js';
import { eventually, USER } from '../support/loop.js';
import { cancelAs, expectAuditedDenial, refusalId, type Sandbox, startSandbox } from './support.js';

let sandbox: Sandbox;
beforeAll(async () => {
  sandbox = await startSandbox();
});
afterAll(() => sandbox?.close());

/** Block Kit limits Slack enforces on chat.postMessage (it answers `invalid_blocks` past them). */
function blockKitProblems(message: SlackRecordedMessage): string[] {
  const problems: string[] = [];
  const blocks = (message.blocks ?? []) as Record<string, unknown>[];
  if (blocks.length > 50) problems.push(`${blocks.length} blocks (max 50)`);
  if ((message.text ?? '').length > 40_000) problems.push('fallback text over 40,000 characters');
  for (const block of blocks) {
    const text = (block.text as { text?: string } | undefined)?.text ?? '';
    if (block.type === 'header' && text.length > 150) problems.push(`header of ${text.length} (max 150)`);
    if (block.type === 'section' && text.length > 3000) problems.push(`section of ${text.length} (max 3000)`);
    const fields = (block.fields ?? []) as { text: string }[];
    if (fields.length > 10) problems.push(`${fields.length} fields (max 10)`);
    for (const field of fields) {
      if (field.text.length > 2000) problems.push(`field of ${field.text.length} (max 2000)`);
    }
    for (const element of (block.elements ?? []) as { type?: string; text?: unknown; value?: string }[]) {
      if (element.value && element.value.length > 2000) problems.push('button value over 2000');
      const t = typeof element.text === 'string' ? element.text : (element.text as { text?: string })?.text;
      if (block.type === 'context' && (t ?? '').length > 3000) problems.push('context element over 3000');
      if (element.type === 'button' && (t ?? '').length > 75) problems.push('button label over 75');
    }
  }
  return problems;
}

function postedCard(requestId: string) {
  return sandbox.loop
    .slack!.sent('chat.postMessage')
    .find((m) => JSON.stringify(m.blocks ?? []).includes(`"value":"${requestId}`));
}

describe('starve reviews', () => {
  it.each([
    ['a justification at its limit', { justification: 'Needed. '.repeat(512).slice(0, 4096) }],
    ['a 2,048-character resource', { resource: `arn:aws:s3:::${'b'.repeat(2034)}` }],
    ['a 60 KB parameter value', { parameters: { policyDocument: 'x'.repeat(60_000) } }],
    [
      '200 parameters',
      { parameters: Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`p${i}`, `v${i}`])) },
    ],
    [
      'a 64 KiB diff and long impact',
      { context: { diff: `+${'line\n'.repeat(13_000)}`.slice(0, 64 * 1024), impact: 'i'.repeat(4096) } },
    ],
  ])(
    '%s: the card stays within Slack’s limits, is posted, and the review can decide',
    async (_name, overrides) => {
      // Prepare
      const intent = makeIntent(overrides as never);
      // Act
      const [entry] = await sandbox.put([intent]);
      expect(entry).toHaveProperty('EventId');
      await sandbox.reviewOpen(intent.intentId);
      // Assess
      const card = postedCard(intent.intentId)!;
      expect(blockKitProblems(card)).toEqual([]);
      await sandbox.click(USER.alice, 'approve', intent.intentId);
      expect((await sandbox.final(intent.intentId)).status).toBe('APPROVED');
    },
  );

  it('a flood of one intent id: one request and one card; every other content refused and audited', async () => {
    // Prepare
    const intent = makeIntent();
    const variants = Array.from({ length: 9 }, (_, i) => ({ ...intent, justification: `variant ${i}` }));
    // Act: 10 identical copies, then 9 variants with the same id.
    const copies = await sandbox.put(Array.from({ length: 10 }, () => intent));
    const refusals = await sandbox.put(variants);
    // Assess
    expect([...copies, ...refusals].every((e) => e.EventId)).toBe(true);
    await sandbox.reviewOpen(intent.intentId);
    for (const entry of refusals) {
      expectAuditedDenial(await sandbox.final(refusalId(entry)), /already used by another intent/);
    }
    const cards = sandbox.loop
      .slack!.sent('chat.postMessage')
      .filter((m) => JSON.stringify(m.blocks ?? []).includes(`"value":"${intent.intentId}`));
    expect(cards).toHaveLength(1);
    for (const entry of copies) expect(await sandbox.view(refusalId(entry))).toBeUndefined();
    await sandbox.click(USER.alice, 'approve', intent.intentId);
    expect((await sandbox.final(intent.intentId)).status).toBe('APPROVED');
    expect(await sandbox.decisions(intent.intentId)).toHaveLength(1);
  });

  it('another agent cannot cancel a request: refused, audited, and the review goes on', async () => {
    const intent = makeIntent();
    await sandbox.put([intent]);
    await sandbox.reviewOpen(intent.intentId);
    // Act
    const [entry] = await cancelAs(sandbox, 'report-bot', intent.intentId);
    expect(entry).toHaveProperty('EventId');
    // Assess
    const view = await eventually(async () => {
      const v = await sandbox.view(intent.intentId);
      return v?.audit.some((r) => r.kind === 'refused') ? v : undefined;
    });
    expect(view.status).toBe('PENDING');
    expect(view.audit.find((r) => r.kind === 'refused')?.data).toMatchObject({ code: 'not-owner' });
    await sandbox.click(USER.alice, 'approve', intent.intentId);
    expect((await sandbox.final(intent.intentId)).status).toBe('APPROVED');
  });

  it('after the flood the loop is healthy', async () => {
    await sandbox.assertHealthy();
  });
});
