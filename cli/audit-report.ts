/**
 * `countersign audit report`: verifies the trail of a period and writes one
 * self-contained HTML report (and, with `--pdf`, a PDF printed by chromium).
 * The work lives in audit/report/; this module parses options.
 */
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { buildAuditReport } from '../audit/report/index.js';
import type { TrailSource } from '../audit/sources.js';
import { DIGEST_PERIOD_MS, hourStart } from '../lambdas/shared/digest.js';
import {
  parseTime,
  positiveInt,
  publicKeys,
  SOURCE_OPTIONS,
  sandboxSource,
  trailSource,
  withAws,
} from './audit.js';
import { type CliIo, UsageError } from './main.js';

/** Quotes a shell word when it needs it. */
const shellWord = (word: string) =>
  /^[A-Za-z0-9_./:=@+-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`;

/** Runs `countersign audit report`. */
export async function reportCommand(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { ...SOURCE_OPTIONS, out: { type: 'string' }, pdf: { type: 'boolean' } },
    strict: true,
    allowPositionals: false,
  });
  let from = parseTime(values.from, 'from');
  let to = parseTime(values.to, 'to');
  if (values.sandbox) {
    to ??= new Date(hourStart(new Date()).getTime() + DIGEST_PERIOD_MS);
    from ??= new Date(to.getTime() - 30 * 86_400_000);
  }
  if (!from || !to) throw new UsageError('--from and --to are required');
  if (from >= to) throw new UsageError('--from must be before --to');
  const out = resolve(io.cwd, values.out ?? 'report.html');

  let source: TrailSource;
  let bucket: string | undefined;
  let keys: Awaited<ReturnType<typeof publicKeys>>;
  const verifyArgs: string[] = [];
  if (values.sandbox) {
    ({ source, bucket, keys } = await sandboxSource(values, io));
    verifyArgs.push('--sandbox', ...(values['data-dir'] ? ['--data-dir', values['data-dir']] : []));
  } else {
    if (values['data-dir']) throw new UsageError('--data-dir goes with --sandbox');
    if (!values['public-key']?.length)
      throw new UsageError('--public-key FILE is required (the digest key’s public half), or use --sandbox');
    keys = await publicKeys(values['public-key'], io);
    ({ source, bucket } = trailSource(values, io));
    verifyArgs.push(...(values.dir ? ['--dir', values.dir] : ['--bucket', bucket!]));
    for (const key of values['public-key']) verifyArgs.push('--public-key', key);
  }
  const lookbackDays = positiveInt(values['lookback-days'], 'lookback-days');
  verifyArgs.push('--from', from.toISOString(), '--to', to.toISOString());
  if (lookbackDays) verifyArgs.push('--lookback-days', String(lookbackDays));
  const command = ['countersign', 'audit', 'verify', ...verifyArgs].map(shellWord).join(' ');

  const report = await withAws(bucket, () =>
    buildAuditReport(source, {
      from: from!,
      to: to!,
      publicKeys: keys,
      command,
      ...(lookbackDays ? { lookbackDays } : {}),
    }),
  );
  await writeFile(out, report.html);
  io.out(`report: ${out}`);
  if (values.pdf) {
    const pdf = `${out.replace(/\.html?$/i, '')}.pdf`;
    const { printPdf } = await import('../audit/report/chromium.js');
    await printPdf(report.html, pdf);
    io.out(`pdf: ${pdf}`);
  }
  const s = report.figures.summary;
  io.err(
    `verification ${report.ok ? 'passed' : 'FAILED'}: ${report.figures.verification.lines.join(' | ')}; ${s.requests} requests in the period`,
  );
  return report.ok ? 0 : 1;
}
