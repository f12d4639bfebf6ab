/**
 * The console's Insights page: the audit report over the sandbox's own trail,
 * built by the same code as `countersign audit report --sandbox` (verify the
 * trail with the sandbox's digest key, figures from verified records only),
 * for the same period `audit export --sandbox` uses: the 30 days up to the end
 * of the open hour.
 */
import { buildAuditReport } from '../audit/report/index.js';
import { s3TrailSource } from '../audit/sources.js';
import { DIGEST_PERIOD_MS, hourStart, loadPublicKey } from '../lambdas/shared/digest.js';
import type { CountersignLoop } from './loop.js';

/** The period `audit export --sandbox` and `audit report --sandbox` default to, at `now`. */
export function sandboxPeriod(now: Date): { from: Date; to: Date } {
  const to = new Date(hourStart(now).getTime() + DIGEST_PERIOD_MS);
  return { from: new Date(to.getTime() - 30 * 86_400_000), to };
}

/** Renders the Insights page, after writing the digest of every hour that has ended. */
export async function insightsPage(loop: CountersignLoop, now = new Date()): Promise<string> {
  await loop.digests.writeEnded();
  const { from, to } = sandboxPeriod(now);
  const report = await buildAuditReport(s3TrailSource(loop.aws.s3, loop.aws.bucket), {
    from,
    to,
    publicKeys: [loadPublicKey(loop.digests.key.publicKeyPem)],
    command: `npm run countersign -- audit verify --sandbox --from ${from.toISOString()} --to ${to.toISOString()}`,
    render: {
      title: 'Countersign Insights (sandbox)',
      nav: [
        { href: '/', label: '← Approval console' },
        { href: '/events', label: 'Decision events (JSON)' },
      ],
    },
  });
  return report.html;
}
