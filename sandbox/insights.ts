/**
 * The console's Insights page: the audit report over the sandbox's own trail,
 * built by the same code as `countersign audit report --sandbox` (verify the
 * trail with the sandbox's digest key, figures from verified records only),
 * for the same period `audit export --sandbox` uses: the 30 days up to the end
 * of the open hour.
 */
import { buildAuditReport } from '../audit/report/index.js';
import { s3TrailSource, type TrailSource } from '../audit/sources.js';
import { DIGEST_PERIOD_MS, hourStart, loadPublicKey } from '../lambdas/shared/digest.js';
import type { CountersignLoop } from './loop.js';

/** The period `audit export --sandbox` and `audit report --sandbox` default to, at `now`. */
export function sandboxPeriod(now: Date): { from: Date; to: Date } {
  const to = new Date(hourStart(now).getTime() + DIGEST_PERIOD_MS);
  return { from: new Date(to.getTime() - 30 * 86_400_000), to };
}

/** Renders the Insights page, after writing the digest of every hour that has ended. */
export async function insightsPage(loop: CountersignLoop, now = new Date()): Promise<string> {
  // The page shows the trail whether or not this catch-up succeeds: an hour left without its digest
  // is shown unsigned, as the scheduled run (which logs and retries) would leave it.
  await loop.digests.writeEnded().catch((error: Error) => {
    console.warn(`insights: ended hours not digested: ${error.message}`);
  });
  const { from, to } = sandboxPeriod(now);
  const report = await buildAuditReport(localTrail(s3TrailSource(loop.aws.s3, loop.aws.bucket)), {
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

/**
 * The sandbox trail as the page reads it. The local S3 server sometimes
 * answers a read with a 500 (seen after a long run; cause not yet known):
 * each read is tried a few times, and an object it still cannot serve is
 * reported as missing, so the page shows a trail that does not verify and
 * names the object, instead of no page at all. `audit verify` reads strictly.
 */
function localTrail(source: TrailSource): TrailSource {
  return {
    ...source,
    async get(key) {
      for (let attempt = 1; ; attempt++) {
        try {
          return await source.get(key);
        } catch (error) {
          if ((error as { $fault?: string }).$fault !== 'server') throw error;
          if (attempt >= 3) {
            console.warn(`insights: the local S3 server cannot serve ${key}; shown as missing`);
            return undefined;
          }
          await new Promise((r) => setTimeout(r, 100 * attempt));
        }
      }
    },
  };
}
