/**
 * Deny with a reason and the tamper-checked modal metadata, through the
 * interaction core (dynalite + s3rver, fake Slack, fake Step Functions).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { signMetadata, verifyMetadata } from '../../lambdas/interaction/metadata.js';
import { type Harness, SIGNING_SECRET, startHarness, USERS } from '../interaction/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
});
beforeEach(() => {
  h.reset();
});

const json = (body: string) =>
  JSON.parse(body) as { response_action: string; errors: Record<string, string> };

describe('deny opens a reason form', () => {
  it('the Deny click opens a modal with a required multiline reason and signed metadata; nothing is decided yet', async () => {
    // Prepare
    const request = await h.seed();

    // Act
    const result = await h.send(h.click(USERS.bob, 'deny', request.intentId));

    // Assess
    expect(result.outcome).toBe('form-opened');
    expect((await h.request(request.intentId))?.status).toBe('PENDING');
    expect(h.fakeAws.tasks.calls).toHaveLength(0);
    const opened = h.lastView('countersign.deny')!;
    const call = h.slack.calls.find((c) => c.method === 'views.open')!;
    expect(call.params.trigger_id).toMatch(/^trigger-/);
    const input = (
      opened.view.blocks as {
        type: string;
        block_id?: string;
        optional?: boolean;
        element?: { multiline?: boolean };
      }[]
    ).find((b) => b.type === 'input');
    expect(input).toMatchObject({ block_id: 'reason', optional: false, element: { multiline: true } });
    const metadata = verifyMetadata(SIGNING_SECRET, opened.view.private_metadata, Date.now() / 1000);
    expect(metadata).toMatchObject({
      ok: true,
      metadata: {
        requestId: request.intentId,
        action: 'deny',
        intentHash: request.intentHash,
        userId: USERS.bob,
      },
    });
  });

  it('an empty reason is answered with response_action "errors" (JSON) and changes nothing', async () => {
    // Prepare
    const request = await h.seed();
    await h.send(h.click(USERS.bob, 'deny', request.intentId));
    const chainBefore = await h.verifiedChain(request.intentId);

    // Act
    const empty = await h.send(h.submission(USERS.bob, h.lastView()!, { reason: '' }));
    const blank = await h.send(h.submission(USERS.bob, h.lastView()!, { reason: '   \n ' }));

    // Assess
    for (const answer of [empty, blank]) {
      expect(answer).toMatchObject({
        statusCode: 200,
        contentType: 'application/json',
        outcome: 'form-errors',
      });
      expect(json(answer.body)).toEqual({
        response_action: 'errors',
        errors: { reason: 'A reason is required.' },
      });
    }
    expect((await h.request(request.intentId))?.status).toBe('PENDING');
    expect(h.fakeAws.tasks.calls).toHaveLength(0);
    expect(await h.verifiedChain(request.intentId)).toHaveLength(chainBefore.length);
  });

  it('a reason decides DENIED: the decision, the audit record and the card carry it; the modal closes (empty 200)', async () => {
    // Prepare
    const request = await h.seed();
    await h.send(h.click(USERS.bob, 'deny', request.intentId));

    // Act
    const answer = await h.send(
      h.submission(USERS.bob, h.lastView()!, { reason: 'Wrong role: use the staging deployer.' }),
    );

    // Assess
    expect(answer).toEqual({ statusCode: 200, body: '', outcome: 'denied' });
    const stored = await h.request(request.intentId);
    expect(stored?.decision?.reason).toBe('Denied by Bob Brown: Wrong role: use the staging deployer.');
    expect((await h.verifiedChain(request.intentId)).at(-1)).toMatchObject({
      kind: 'vote',
      data: { vote: 'deny', deciding: true, denyReason: 'Wrong role: use the staging deployer.' },
    });
    const card = h.slack.message(request.card!.channel, request.card!.ts);
    expect(JSON.stringify(card?.blocks)).toContain('Wrong role: use the staging deployer.');
  });

  it('an outsider gets no form: refused (audited) with an ephemeral', async () => {
    const request = await h.seed();
    const result = await h.send(h.click(USERS.dave, 'deny', request.intentId));
    expect(result.outcome).toBe('refused');
    expect(h.slack.views.size).toBe(0);
    expect((await h.verifiedChain(request.intentId)).at(-1)).toMatchObject({ kind: 'refused' });
  });
});

describe('private_metadata is tamper-checked', () => {
  it('a tampered metadata (request id swapped, signature kept) is refused, audited as refused and changes nothing', async () => {
    // Prepare: a form opened for request A, replayed against request B.
    const a = await h.seed();
    const b = await h.seed();
    await h.send(h.click(USERS.bob, 'deny', a.intentId));
    const view = h.lastView()!;
    const [version, payload, mac] = String(view.view.private_metadata).split('.');
    const fields = JSON.parse(Buffer.from(payload!, 'base64url').toString('utf8'));
    const forged = `${version}.${Buffer.from(JSON.stringify({ ...fields, r: b.intentId })).toString('base64url')}.${mac}`;

    // Act
    const answer = await h.send(
      h.submission(USERS.bob, view, { reason: 'gotcha' }, { privateMetadata: forged }),
    );

    // Assess
    expect(answer.outcome).toBe('refused');
    expect(json(answer.body).errors.reason).toMatch(/tampered/);
    for (const id of [a.intentId, b.intentId]) expect((await h.request(id))?.status).toBe('PENDING');
    expect(h.fakeAws.tasks.calls).toHaveLength(0);
    expect((await h.verifiedChain(b.intentId)).at(-1)).toMatchObject({
      kind: 'refused',
      data: { code: 'bad-metadata' },
    });
  });

  it('metadata signed with another key, for another user, or for another form is refused', async () => {
    const request = await h.seed();
    await h.send(h.click(USERS.bob, 'deny', request.intentId));
    const view = h.lastView()!;
    const fields = {
      requestId: request.intentId,
      action: 'deny' as const,
      intentHash: request.intentHash,
      expiresAt: Math.floor(Date.now() / 1000) + 600,
      userId: USERS.bob,
    };
    const cases = [
      { privateMetadata: signMetadata('another-signing-secret-0123456789', fields), expected: /tampered/ },
      {
        privateMetadata: signMetadata(SIGNING_SECRET, { ...fields, userId: USERS.alice }),
        expected: /someone else/,
      },
      { privateMetadata: signMetadata(SIGNING_SECRET, { ...fields, expiresAt: 1 }), expected: /expired/ },
      { callbackId: 'countersign.breakglass', expected: /does not match/ },
      { privateMetadata: 'not-metadata', expected: /not in Countersign format/ },
    ];
    for (const { expected, ...override } of cases) {
      const answer = await h.send(h.submission(USERS.bob, view, { reason: 'x' }, override));
      expect(answer.outcome).toBe('refused');
      expect(json(answer.body).errors.reason).toMatch(expected);
    }
    expect((await h.request(request.intentId))?.status).toBe('PENDING');
    expect(h.fakeAws.tasks.calls).toHaveLength(0);
  });
});
