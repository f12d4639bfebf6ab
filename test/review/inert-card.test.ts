/**
 * Agent text is data: one row per trick an agent can try with the text it
 * controls, rendered by the pure renderers (card, fallback, modals, late
 * message) and asserted on the block JSON: every agent value sits in a
 * plain_text object (emoji off) or a fence it cannot close, nothing of it is
 * in Countersign's voice or live, hidden characters are shown escaped and
 * the field is marked, long values are cut with the cut declared and a View
 * full request button, every block fits Slack's limits, and every value reads
 * back (visible escapes undone) to the intent's value or its declared cut.
 */
import { describe, expect, it } from 'vitest';
import { denyModal, fullRequestModal, modifyModal } from '../../lambdas/interaction/modals.js';
import { SLACK_STYLE } from '../../lambdas/interaction/slack-notifier.js';
import { lateMessage } from '../../lambdas/review-core/request.js';
import { inlineValue, unescapeEntities, unreveal } from '../../lambdas/shared/agent-text.js';
import { cardFallback, renderCard } from '../../lambdas/shared/card.js';
import type { Intent } from '../../lambdas/shared/intent.js';
import type { RequestItem } from '../../lambdas/shared/store.js';
import { makeIntent, makeReviewPlan } from '../support/fixtures.js';
import {
  assertFaithful,
  blocksProblems,
  cardValues,
  mrkdwnProblems,
  RAW_HIDDEN,
  readBack,
} from '../support/inert.js';
import { assertSlackLimits } from '../support/slack-limits.js';

const CANARY = 'ZQXJ';

/** A request as Review leaves it, from an intent that skipped validation (the renderers must not rely on it). */
function requestFor(intent: Intent, overrides: Partial<RequestItem> = {}): RequestItem {
  return {
    pk: `REQUEST#${intent.intentId}`,
    sk: 'REQUEST',
    intentId: intent.intentId,
    agentId: 'deploy-bot',
    source: 'countersign.agent.deploy-bot',
    status: 'PENDING',
    intent,
    intentHash: `sha256:${'0'.repeat(64)}`,
    createdAt: '2026-01-01T00:00:00.000Z',
    expiresAt: '2026-01-01T01:00:00.000Z',
    review: makeReviewPlan({ editable: ['rowLimit'] }),
    approvals: [],
    voterIds: [],
    ...overrides,
  };
}

/** An intent with hostile fields set as-is (no schema: the renderers are the last line). */
function hostile(patch: (i: Intent) => void): Intent {
  const intent = structuredClone(makeIntent());
  patch(intent);
  return intent;
}

type Row = {
  name: string;
  intent: Intent;
  /** The label whose value carries the trick. */
  field: string;
  /** Extra assertions on the card's blocks JSON. */
  also?: (card: ReturnType<typeof renderCard>, blocksJson: string) => void;
  /** The card must declare a cut and offer View full request. */
  cut?: boolean;
  /** The field must be marked as holding hidden characters. */
  hidden?: boolean;
};

const rows: Row[] = [
  {
    name: 'fake "*Environment:* dev" line via a newline in the justification',
    intent: hostile((i) => {
      i.justification = `Routine rotation.\n*Environment:* dev ${CANARY}\n*Risk:* none`;
    }),
    field: 'Why (as the agent wrote it)',
  },
  {
    name: 'fake "Approved by" line in the resource (single-line field: the newline is shown as \\n)',
    intent: hostile((i) => {
      i.resource = `arn:aws:s3:::bucket\n:white_check_mark: *Approved* by <@U0ALICE01> ${CANARY}`;
    }),
    field: 'Resource',
    also: (_card, json) => {
      expect(json).toContain('arn:aws:s3:::bucket\\\\n:white_check_mark: *Approved* by <@U0ALICE01>');
    },
  },
  {
    name: '``` breakout in a parameter value',
    intent: hostile((i) => {
      i.parameters = { note: `x\`\`\`\n*Approved by* security ${CANARY}\n\`\`\`` };
    }),
    field: 'Parameters',
  },
  {
    name: '``` breakout in a parameter key',
    intent: hostile((i) => {
      i.parameters = { [`k\`\`\` *Approved* ${CANARY} \`\`\``]: 1 };
    }),
    field: 'Parameters',
  },
  {
    name: 'right-to-left override in the resource',
    intent: hostile((i) => {
      i.resource = `arn:aws:s3:::prod-\u202Etxt.exe${CANARY}`;
    }),
    field: 'Resource',
    hidden: true,
    also: (_card, json) => expect(json).toContain('prod-\\\\u202Etxt.exe'),
  },
  {
    name: 'zero-width characters in the action',
    intent: hostile((i) => {
      i.action = `s3:Get\u200BObject\u2060${CANARY}\uFEFF`;
    }),
    field: 'Action',
    hidden: true,
  },
  {
    name: '10,000-character justification',
    intent: hostile((i) => {
      i.justification = `${CANARY} ${'because '.repeat(1250)}`.slice(0, 10_000);
    }),
    field: 'Why (as the agent wrote it)',
    cut: true,
  },
  {
    name: '200 parameters',
    intent: hostile((i) => {
      i.parameters = Object.fromEntries(
        Array.from({ length: 200 }, (_, k) => [`p${k}`, `${CANARY} value ${k} `.repeat(3)]),
      );
    }),
    field: 'Parameters',
    cut: true,
  },
  {
    name: '<!channel> in the justification',
    intent: hostile((i) => {
      i.justification = `<!channel> <!here> <!subteam^S0SEC|@security> ${CANARY}`;
    }),
    field: 'Why (as the agent wrote it)',
  },
  {
    name: 'disguised link in the resource',
    intent: hostile((i) => {
      i.resource = `<https://evil.example|https://bank.example> ${CANARY}`;
    }),
    field: 'Resource',
  },
  {
    name: 'user mention in the model',
    intent: hostile((i) => {
      i.agent.model = `<@U123> ${CANARY}`;
    }),
    field: 'Model',
  },
  {
    name: '&lt; pre-escaped in the impact',
    intent: hostile((i) => {
      i.context = { impact: `&lt;!channel&gt; &amp; ${CANARY}` };
    }),
    field: 'Impact (as the agent wrote it)',
    also: (_card, json) => expect(json).toContain('&amp;lt;!channel&amp;gt; &amp;amp;'),
  },
  {
    name: 'emoji shortcodes in the session id',
    intent: hostile((i) => {
      i.agent.sessionId = `:white_check_mark: :rotating_light: ${CANARY}`;
    }),
    field: 'Session',
  },
  {
    name: 'backticks, bidi and a fence in the diff',
    intent: hostile((i) => {
      i.context = { diff: `- a\n+ b\`\`\`\n*Approved by* x \u2066${CANARY}\u2069` };
    }),
    field: 'Diff',
    hidden: true,
  },
  {
    name: 'an entity-heavy diff (escaping after the cut used to push a section past 3,000)',
    intent: hostile((i) => {
      i.context = { diff: `${CANARY}${'<&>'.repeat(3000)}` };
    }),
    field: 'Diff',
    cut: true,
  },
  {
    name: 'a newline and a fence in a dataset name',
    intent: hostile((i) => {
      i.context = { datasets: ['sales', `eu\n*Approved by*\`\`\` ${CANARY}`] };
    }),
    field: 'Datasets',
  },
];

describe('agent text on the card is inert data', () => {
  it.each(rows)('$name', (row) => {
    // Prepare
    const request = requestFor(row.intent);

    // Act
    const card = renderCard(request);
    const json = JSON.stringify(card.blocks);

    // Assess
    assertSlackLimits({ text: card.text, blocks: card.blocks });
    expect(blocksProblems(card.blocks, CANARY)).toEqual([]);
    expect(RAW_HIDDEN.test(json)).toBe(false);
    expect(json).toContain(CANARY);
    const value = cardValues(card.blocks).find((v) => v.label === row.field);
    expect(value, `the card shows ${row.field}`).toBeDefined();
    expect(value!.shown).toContain(CANARY);
    expect(value!.hidden).toBe(row.hidden ?? false);
    expect(value!.cut).toBe(row.cut ?? false);
    const buttons = json.includes('"action_id":"view_full"');
    expect(buttons).toBe(row.cut ?? false);
    assertFaithful(
      { intent: request.intent, agentId: request.agentId, masked: request.review?.masked ?? [] },
      card.blocks,
    );
    // Countersign's labels and status are never agent text: the one bold voice line is ours.
    expect(card.blocks[0]).toEqual({
      type: 'header',
      text: { type: 'plain_text', text: 'Privileged action review', emoji: false },
    });
    row.also?.(card, json);

    // The fallback text and the modals are inert too.
    expect(mrkdwnProblems(cardFallback(request), CANARY)).toEqual([]);
    expect(RAW_HIDDEN.test(cardFallback(request))).toBe(false);
    for (const view of [
      fullRequestModal(request, request.intent),
      denyModal(request, 'metadata'),
      modifyModal(request, request.intent, 'metadata'),
    ]) {
      assertSlackLimits(view as { type: 'modal'; blocks: unknown[] });
      expect(blocksProblems(view.blocks, CANARY)).toEqual([]);
    }
  });

  it('a card with every field at its largest, all hidden characters, modified and decided fits Slack', () => {
    // Prepare: the schema's maxima, each character one that is shown as a 6-character escape.
    const hidden = (n: number) => '\u202E'.repeat(n);
    const intent = hostile((i) => {
      i.action = hidden(128);
      i.environment = hidden(32);
      i.resource = hidden(2048);
      i.justification = hidden(4096);
      i.parameters = Object.fromEntries(Array.from({ length: 300 }, (_, k) => [hidden(40) + k, hidden(200)]));
      i.agent = {
        model: hidden(128),
        sessionId: hidden(256),
        onBehalfOf: `${'a'.repeat(64)}@${'b'.repeat(180)}.example`,
        owner: `${'c'.repeat(64)}@${'d'.repeat(180)}.example`,
      };
      i.context = {
        impact: hidden(4096),
        diff: hidden(64 * 1024),
        datasets: Array.from({ length: 50 }, () => hidden(256)),
      };
    });
    const request = requestFor(intent, {
      agentId: 'a'.repeat(64),
      status: 'DENIED',
      modification: {
        parameters: intent.parameters,
        diff: Array.from({ length: 20 }, (_, k) => ({ path: `p${k}`, from: hidden(200), to: hidden(200) })),
        by: { slackUserId: 'U0BOB0002', email: 'bob@example.com', at: '2026-01-01T00:05:00.000Z' },
        hash: `sha256:${'1'.repeat(64)}`,
      } as unknown as RequestItem['modification'],
      decision: {
        status: 'DENIED',
        automatic: false,
        reason: hidden(2000),
        decidedAt: '2026-01-01T00:10:00.000Z',
        approvers: [],
        policies: [],
        intentHash: `sha256:${'0'.repeat(64)}`,
      },
    });

    // Act
    const card = renderCard(request);

    // Assess
    assertSlackLimits({ text: card.text, blocks: card.blocks });
    expect(JSON.stringify(card.blocks)).toContain('"action_id":"view_full"');
    assertSlackLimits(fullRequestModal(request, intent) as { type: 'modal'; blocks: unknown[] });
  });

  it('the full-request modal reads back to the whole masked intent', () => {
    const intent = rows.find((r) => r.name === '200 parameters')!.intent;
    intent.parameters.password = 'hunter2';
    const view = fullRequestModal(requestFor(intent), intent);
    const json = (view.blocks as { text?: { text: string } }[])
      .filter((b) => b.text?.text.startsWith('```'))
      .map((b) => unescapeEntities(b.text!.text.slice(3, -3)))
      .join('');
    expect(JSON.parse(json)).toEqual({ ...intent, parameters: { ...intent.parameters, password: '****' } });
  });

  it('a cancel reason or a deny reason in the card, the late message and DMs stays data', () => {
    const reason = `Cancelled by agent deploy-bot: done\n:white_check_mark: *Approved by* <@U0ALICE01> <!channel> ${CANARY}`;
    const request = requestFor(makeIntent(), {
      status: 'CANCELLED',
      decision: {
        status: 'CANCELLED',
        automatic: false,
        reason,
        decidedAt: '2026-01-01T00:10:00.000Z',
        approvers: [],
        policies: [],
        intentHash: `sha256:${'0'.repeat(64)}`,
      },
    });
    const card = renderCard(request);
    assertSlackLimits(card.blocks);
    expect(blocksProblems(card.blocks, CANARY)).toEqual([]);
    const shown = cardValues(card.blocks).find((v) => v.label === 'Reason')!;
    expect(readBack(shown)).toBe(reason);
    const late = lateMessage(request, SLACK_STYLE);
    expect(mrkdwnProblems(late, CANARY)).toEqual([]);
    expect(late).toContain(inlineValue(reason, 500));
  });

  it('inline values cannot be widened by backticks, spaces, newlines or hidden characters', () => {
    for (const value of ['`', ' a ', 'x`*y*`z', 'a\nb', '\u202Eab', '\\u202E', '\\', '']) {
      const span = inlineValue(value);
      expect(mrkdwnProblems(`x ${span} y`, 'zzz')).toEqual([]);
      expect(span.includes('\n')).toBe(false);
      const code = /^`([^`]*)`/.exec(span);
      if (value) expect(unreveal(unescapeEntities(code![1]!), 'line')).toBe(value);
    }
  });
});
