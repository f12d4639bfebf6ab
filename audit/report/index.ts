/**
 * `audit report`: verify a trail exactly as `audit verify` does, then build
 * the report's figures from the records that passed and render the page.
 * The CLI (cli/audit-report.ts) and the sandbox's Insights page both call
 * {@link buildAuditReport}, so they show the same figures.
 */
import type { KeyObject } from 'node:crypto';
import { publicKeyFingerprint } from '../../lambdas/shared/digest.js';
import type { TrailSource } from '../sources.js';
import { verifySource } from '../verify.js';
import { buildReportFigures, type ReportFigures } from './figures.js';
import { type RenderOptions, renderReport } from './html.js';

/** Options of {@link buildAuditReport}. */
export interface AuditReportOptions {
  from: Date;
  to: Date;
  /** Keys digests must verify with; `null` skips signature checks (the report says so). */
  publicKeys: readonly KeyObject[] | null;
  /** The `audit verify` command that repeats this verification, shown in the report. */
  command: string;
  lookbackDays?: number;
  now?: Date;
  render?: RenderOptions;
}

/** A built report. */
export interface AuditReport {
  figures: ReportFigures;
  html: string;
  /** Whether the verification passed. */
  ok: boolean;
}

/** Verifies the trail of [from, to) and renders its report. */
export async function buildAuditReport(
  source: TrailSource,
  options: AuditReportOptions,
): Promise<AuditReport> {
  const verify = await verifySource(source, {
    publicKeys: options.publicKeys,
    from: options.from,
    to: options.to,
    ...(options.lookbackDays ? { lookbackDays: options.lookbackDays } : {}),
    ...(options.now ? { now: options.now } : {}),
  });
  const figures = buildReportFigures({
    verify,
    from: options.from,
    to: options.to,
    keyFingerprints: (options.publicKeys ?? []).map(publicKeyFingerprint),
    command: options.command,
    source: source.description,
    ...(options.now ? { now: options.now } : {}),
  });
  return { figures, html: renderReport(figures, options.render), ok: verify.ok };
}
