/** Parsing of Slack interaction bodies and Function URL events (pure). */
import { describe, expect, it } from 'vitest';
import { parseInteraction, toHttpRequest } from '../../lambdas/interaction/payload.js';

const form = (payload: unknown) =>
  `payload=${encodeURIComponent(typeof payload === 'string' ? payload : JSON.stringify(payload))}`;
const click = (actionId: string, value: string | undefined, extra: Record<string, unknown> = {}) => ({
  type: 'block_actions',
  user: { id: 'U0ALICE01' },
  channel: { id: 'C0APPROVAL' },
  container: { type: 'message', channel_id: 'C0APPROVAL', message_ts: '1700000000.000100' },
  trigger_id: 'trigger-1',
  actions: [{ type: 'button', action_id: actionId, ...(value === undefined ? {} : { value }) }],
  ...extra,
});

describe('parseInteraction', () => {
  it.each([
    ['approve', 'approve'],
    ['approve-v2', 'approve'],
    ['deny', 'deny'],
    ['deny_with_reason', 'deny'],
  ])('reads action_id %s as a %s vote carrying the request id', (actionId, vote) => {
    // Act
    const result = parseInteraction(form(click(actionId, 'intent-12345678')));

    // Assess
    expect(result).toEqual({
      kind: 'vote',
      vote,
      actionId,
      requestId: 'intent-12345678',
      userId: 'U0ALICE01',
      channel: 'C0APPROVAL',
      messageTs: '1700000000.000100',
      triggerId: 'trigger-1',
    });
  });

  it.each([
    ['no payload field', 'foo=bar', 'invalid'],
    ['payload that is not JSON', 'payload=%7Bnot', 'invalid'],
    ['payload without a user', form({ type: 'block_actions', actions: [] }), 'invalid'],
    [
      'block_actions without actions',
      form({ type: 'block_actions', user: { id: 'U1' }, actions: [] }),
      'invalid',
    ],
    ['a button without a value', form(click('approve', undefined)), 'invalid'],
    [
      'a value that is not a request id',
      form(click('approve', 'arn:aws:states:token with spaces')),
      'invalid',
    ],
    ['another action', form(click('open_details', 'intent-12345678')), 'ignored'],
    ['a view submission without a view', form({ type: 'view_submission', user: { id: 'U1' } }), 'invalid'],
    ['a closed view', form({ type: 'view_closed', user: { id: 'U1' }, view: {} }), 'ignored'],
  ])('classifies %s', (_name, body, kind) => {
    // Act
    const result = parseInteraction(body);

    // Assess
    expect(result.kind).toBe(kind);
  });
});

describe('toHttpRequest', () => {
  it('lower-cases header names and decodes a base64 body to the exact bytes', () => {
    // Prepare
    const raw = 'payload=%7B%22a%22%3A%22%C3%A9%22%7D';

    // Act
    const request = toHttpRequest({
      headers: { 'X-Slack-Signature': 'v0=abc', 'Content-Type': 'application/x-www-form-urlencoded' },
      body: Buffer.from(raw).toString('base64'),
      isBase64Encoded: true,
    });

    // Assess
    expect(request.headers).toEqual({
      'x-slack-signature': 'v0=abc',
      'content-type': 'application/x-www-form-urlencoded',
    });
    expect(request.rawBody.toString('utf8')).toBe(raw);
  });

  it('treats a missing body as empty', () => {
    // Act
    const request = toHttpRequest({ headers: {}, body: undefined, isBase64Encoded: false });

    // Assess
    expect(request.rawBody.length).toBe(0);
  });
});
