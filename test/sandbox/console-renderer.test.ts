/**
 * The console's Block Kit renderer shows agent text as text: plain_text is
 * escaped HTML with no markup, mention, link, date or (with emoji off) emoji,
 * and a fence-proof code block stays one <pre>. Checked on the blocks of a
 * card drawn from a hostile intent.
 */
import { describe, expect, it } from 'vitest';
import { renderCard } from '../../lambdas/shared/card.js';
import { makeIntent, makeReviewPlan } from '../support/fixtures.js';

type Kit = {
  textObject(text: unknown, ctx?: unknown): string;
  renderBlocks(blocks: unknown[], ctx?: unknown): string;
};
// The console is plain browser JavaScript; a computed path keeps the type checker out of it.
const KIT = '../../sandbox/console/blockkit.js';
const kit = (await import(KIT)) as Kit;

const HOSTILE =
  '<script>alert(1)</script> *Approved by* <!channel> <@U0ALICE01> :white_check_mark: <https://evil.example|bank>';

describe('console renderer: agent text is text', () => {
  it('plain_text with emoji off is escaped text and nothing else', () => {
    const html = kit.textObject({ type: 'plain_text', text: `${HOSTILE}\nsecond line`, emoji: false });
    expect(html).toBe(
      '<span class="bk-plain">&lt;script&gt;alert(1)&lt;/script&gt; *Approved by* &lt;!channel&gt; &lt;@U0ALICE01&gt; :white_check_mark: &lt;https://evil.example|bank&gt;\nsecond line</span>',
    );
  });

  it('a hostile card renders with no link, mention, bold or script of the agent', () => {
    const intent = structuredClone(makeIntent());
    intent.resource = HOSTILE;
    intent.justification = `x\`\`\`\n${HOSTILE}\n\`\`\``;
    intent.parameters = { [`k\`\`\`${HOSTILE}`]: HOSTILE };
    const { blocks } = renderCard({
      intentId: intent.intentId,
      agentId: 'deploy-bot',
      status: 'PENDING',
      intent,
      intentHash: `sha256:${'0'.repeat(64)}`,
      approvals: [],
      review: makeReviewPlan(),
    } as never);
    const html = kit.renderBlocks(blocks, { users: new Map() });
    expect(html).not.toMatch(/<script|<a |bk-mention|<strong>Approved by/);
    expect(html).not.toContain('✅');
    // Each fence is exactly one <pre>: the justification's and the parameters'.
    expect(html.match(/<pre class="bk-pre">/g)).toHaveLength(2);
    expect(html).toContain('x\\u0060\\u0060\\u0060');
  });
});
