/** The card of a step-up request: Approve is a link to the web inbox, with the reason; Slack renders nothing that votes. */
import { describe, expect, it } from 'vitest';
import { WEB_INBOX_URL_ENV } from '../../lambdas/identity/step-up.js';
import { renderCard } from '../../lambdas/shared/card.js';
import type { RequestItem } from '../../lambdas/shared/store.js';
import { makeIntent, makeReviewPlan } from '../support/fixtures.js';

type Kit = { renderBlocks(blocks: unknown[], ctx?: unknown): string };
// The console is plain browser JavaScript; a computed path keeps the type checker out of it.
const KIT = '../../sandbox/console/blockkit.js';
const kit = (await import(KIT)) as Kit;

function pending(review: Partial<RequestItem['review']> = {}): RequestItem {
  const intent = makeIntent({ context: { urgency: 'urgent' } });
  return {
    intentId: intent.intentId,
    agentId: 'deploy-bot',
    status: 'PENDING',
    intent,
    intentHash: `sha256:${'a'.repeat(64)}`,
    createdAt: new Date().toISOString(),
    approvals: [],
    voterIds: [],
    review: makeReviewPlan({ editable: ['parameters.roleName'], ...review }),
  } as unknown as RequestItem;
}

const buttons = (blocks: unknown[]) =>
  (blocks as { type: string; elements?: Record<string, unknown>[] }[])
    .filter((b) => b.type === 'actions')
    .flatMap((b) => b.elements ?? []);

describe('a step-up request card', () => {
  const stepUp = { amr: ['mfa'], maxAgeSeconds: 600 };

  it('Approve links to the request page; no Modify, no Break glass; Deny stays; a line says why', () => {
    const request = pending({ stepUp, breakGlass: true, responderGroups: ['platform-oncall'] });
    const { blocks } = renderCard(request, { webInboxUrl: 'https://inbox.example.com/' });
    expect(buttons(blocks).map((b) => [b.action_id, b.url ?? b.value])).toEqual([
      ['web_approve', `https://inbox.example.com/requests/${request.intentId}`],
      ['deny', request.intentId],
    ]);
    expect(JSON.stringify(blocks)).toMatch(
      /fresh sign-in \(mfa, within 10 min\) to approve: a Slack click cannot approve/,
    );
  });

  it('without a web inbox there is nothing to approve with, and the card says so', () => {
    // The shared sandbox loop of a full run sets the variable for its handlers.
    const configured = process.env[WEB_INBOX_URL_ENV];
    delete process.env[WEB_INBOX_URL_ENV];
    let blocks: unknown[];
    try {
      blocks = renderCard(pending({ stepUp }), {}).blocks;
    } finally {
      if (configured !== undefined) process.env[WEB_INBOX_URL_ENV] = configured;
    }
    expect(buttons(blocks).map((b) => b.action_id)).toEqual(['deny']);
    expect(JSON.stringify(blocks)).toContain('No web inbox is configured');
  });

  it('an ordinary request keeps its buttons', () => {
    const request = pending();
    const { blocks } = renderCard(request, { webInboxUrl: 'https://inbox.example.com' });
    expect(buttons(blocks).map((b) => b.action_id)).toEqual(['approve', 'modify', 'deny']);
  });

  it('the sandbox console shows the link as a link that opens the page, not a button that posts a click', () => {
    const request = pending({ stepUp });
    const html = kit.renderBlocks(renderCard(request, { webInboxUrl: 'http://localhost:4012' }).blocks);
    expect(html).toContain(`href="http://localhost:4012/requests/${request.intentId}"`);
    expect(html).not.toMatch(/<button[^>]*data-action-id="web_approve"/);
    const unsafe = kit.renderBlocks([
      {
        type: 'actions',
        elements: [
          {
            type: 'button',
            action_id: 'x',
            text: { type: 'plain_text', text: 'x' },
            url: 'javascript:alert(1)',
          },
        ],
      },
    ]);
    expect(unsafe).not.toContain('href=');
  });
});
