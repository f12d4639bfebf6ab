/**
 * `countersign audit verify | export | report | digest | archive`: check the audit trail without
 * trusting the operator, export evidence for auditors, and write a digest on
 * demand (operators, the local sandbox). The work lives in `audit/` and
 * `lambdas/digest/core.ts`; this module parses options and maps errors.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { KMSClient } from '@aws-sdk/client-kms';
import { archiveMissing } from '../audit/archive-missing.js';
import { buildEvidence, formatSummary, toCsv, toJsonl } from '../audit/export.js';
import { directoryTrailSource, s3TrailSource, type TrailSource } from '../audit/sources.js';
import { formatReport, verifySource } from '../audit/verify.js';
import { type DigestResult, writeDigest, writeDueDigests } from '../lambdas/digest/core.js';
import { legalHoldFromEnv } from '../lambdas/shared/audit.js';
import { createDocumentClient } from '../lambdas/shared/aws.js';
import {
  DIGEST_PERIOD_MS,
  type DigestSigner,
  hourStart,
  kmsSigner,
  loadPrivateKey,
  loadPublicKey,
  localSigner,
} from '../lambdas/shared/digest.js';
import { optionalEnv } from '../lambdas/shared/env.js';
import { createS3Client } from '../lambdas/shared/s3.js';
import {
  defaultDataDir,
  findSandbox,
  type SandboxInfo,
  SandboxNotFoundError,
  sandboxDocumentClient,
  sandboxS3Client,
} from '../sandbox/sandbox-info.js';
import type { CliIo } from './main.js';
import { UsageError } from './main.js';

export const usage = `usage:
  countersign audit verify --sandbox [--data-dir DIR]
  countersign audit verify (--bucket B | --dir D) --public-key FILE [--public-key FILE ...]
                           [--from ISO] [--to ISO] [--lookback-days N]
      Checks every digest signature, the digest chain, every record's hash, every
      request chain, and that every record is listed in exactly one digest. Prints
      one line per problem (missing, modified, reordered, extra, bad-signature, gap,
      moved) and exits 1, or prints a one-line summary and exits 0. Records not yet
      in a digest are a warning ("pending"), until their digest is overdue.

  countersign audit export --sandbox [--data-dir DIR] [--from ISO] [--to ISO] --format csv|jsonl
  countersign audit export (--bucket B | --dir D) --from ISO --to ISO --format csv|jsonl
                           [--out FILE] [--summary FILE] [--public-key FILE ...]
      One row per request created in [from, to), from verified records only, and a
      summary on stderr (and as JSON in --summary FILE). Refuses a trail that fails
      verification. Without --public-key, digest signatures are not checked.

  countersign audit report --sandbox [--data-dir DIR] [--from ISO] [--to ISO] [--out FILE] [--pdf]
  countersign audit report (--bucket B | --dir D) --public-key FILE [--public-key FILE ...]
                           --from ISO --to ISO [--out FILE] [--pdf]
      One self-contained HTML file (default report.html; no network needed to open it): the
      verification it ran (re-run command, public key fingerprints), export's summary, charts and
      the SOC 2 / NIST 800-53 control mapping, built only from records that pass verification.
      --pdf also prints it to FILE.pdf through chromium. Exits 1 when verification fails (the
      report then says so and lists every problem).

  countersign audit digest --sandbox [--data-dir DIR]
  countersign audit digest [--period ISO-HOUR | --from ISO --to ISO] [--signing-key FILE]
                           [--bucket B] [--table T] [--retention-days N]
      Writes the signed digest of one UTC hour (or of each hour in [from, to)); with
      neither, the due hour and any missed before it, as the hourly Lambda does.
      Signs with --signing-key (a PEM P-256 private key, for the sandbox) or else
      the KMS key in COUNTERSIGN_DIGEST_KEY_ID.

  countersign audit archive --missing (--sandbox [--data-dir DIR] | [--table T] [--bucket B] [--retention-days N])
                           [--from ISO] [--to ISO]
      Puts in the bucket every audit row (table) written in [from, to) whose record
      object is missing, e.g. after the archive dead-letter queue, exactly as the
      stream would have (same bytes, same lock). Idempotent; reports each key written.
      Default range: the last 30 days.

  --sandbox: the local sandbox running from DIR (default COUNTERSIGN_DATA_DIR, else .countersign/),
  found through DIR/sandbox.json: its S3 endpoint, bucket and digest public key. verify and export
  first have it write the digest of every hour that has ended; records of the open hour are checked
  (hash, place, chain) and reported as pending. export defaults to the last 30 days.

  --bucket defaults to COUNTERSIGN_AUDIT_BUCKET, --table to COUNTERSIGN_TABLE_NAME,
  --retention-days to COUNTERSIGN_AUDIT_RETENTION_DAYS. S3 uses the standard AWS
  credentials, region and endpoint variables (AWS_ENDPOINT_URL_S3 for the sandbox).
  The public key: aws kms get-public-key --key-id <DigestKeyArn output> --query PublicKey --output text > digest-key.b64`;

const SANDBOX_OPTIONS = {
  sandbox: { type: 'boolean' },
  'data-dir': { type: 'string' },
} as const;

/** Options every trail-reading subcommand takes. */
export const SOURCE_OPTIONS = {
  ...SANDBOX_OPTIONS,
  bucket: { type: 'string' },
  dir: { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  'public-key': { type: 'string', multiple: true },
  'lookback-days': { type: 'string' },
} as const;

/** Runs `countersign audit <subcommand>`. */
export async function run(argv: string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = argv;
  switch (sub) {
    case 'verify':
      return verifyCommand(rest, io);
    case 'export':
      return exportCommand(rest, io);
    case 'digest':
      return digestCommand(rest, io);
    case 'archive':
      return archiveCommand(rest, io);
    case 'report':
      return (await import('./audit-report.js')).reportCommand(rest, io);
    default:
      throw new UsageError(sub === undefined ? 'missing subcommand' : `unknown subcommand "${sub}"`);
  }
}

/** An ISO 8601 option as a Date, or a usage error naming the option. */
export function parseTime(value: string | undefined, option: string): Date | undefined {
  if (value === undefined) return undefined;
  const t = Date.parse(value);
  if (Number.isNaN(t))
    throw new UsageError(`--${option} "${value}" is not an ISO 8601 time (e.g. 2025-03-04T10:00:00Z)`);
  return new Date(t);
}

/** A positive integer option, or a usage error naming the option. */
export function positiveInt(value: string | undefined, option: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0)
    throw new UsageError(`--${option} must be a positive integer, got "${value}"`);
  return n;
}

/** The trail source `--bucket` or `--dir` names. */
export function trailSource(
  values: { bucket?: string; dir?: string },
  io: CliIo,
): { source: TrailSource; bucket?: string } {
  if (values.bucket && values.dir) throw new UsageError('give either --bucket or --dir, not both');
  if (values.dir) return { source: directoryTrailSource(resolve(io.cwd, values.dir)) };
  const bucket = values.bucket ?? optionalEnv('COUNTERSIGN_AUDIT_BUCKET');
  if (!bucket) throw new UsageError('give --bucket (or set COUNTERSIGN_AUDIT_BUCKET) or --dir');
  return { source: s3TrailSource(createS3Client(), bucket), bucket };
}

/** Loads each public key file, naming the file on failure. */
export async function publicKeys(files: string[] | undefined, io: CliIo) {
  return Promise.all(
    (files ?? []).map(async (file) => {
      let data: Buffer;
      try {
        data = await readFile(resolve(io.cwd, file));
      } catch (error) {
        throw new Error(
          `cannot read public key file ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
        );
      }
      try {
        return loadPublicKey(data);
      } catch (error) {
        throw new Error(`public key file ${file}: ${(error as Error).message}`);
      }
    }),
  );
}

/** Turns AWS SDK failures into an actionable sentence. */
export function describeAwsError(error: unknown, bucket?: string): Error {
  const e = error as {
    name?: string;
    message?: string;
    code?: string;
    $metadata?: { httpStatusCode?: number };
  };
  const where = bucket ? `s3://${bucket}` : 'the audit store';
  const message = e?.message ?? String(error);
  if (e?.name === 'CredentialsProviderError' || /Could not load credentials/i.test(message)) {
    return new Error(
      'no AWS credentials found: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (for the local sandbox any values, with AWS_ENDPOINT_URL_S3)',
    );
  }
  if (/Region is missing/i.test(message))
    return new Error('no AWS region: set AWS_REGION (or AWS_PROFILE with a region)');
  if (e?.name === 'NoSuchBucket')
    return new Error(`bucket "${bucket}" does not exist (check --bucket, AWS_REGION and the endpoint)`);
  if (e?.name === 'ResourceNotFoundException') return new Error(`table not found: ${message}`);
  if (e?.name === 'AccessDenied' || e?.$metadata?.httpStatusCode === 403) {
    return new Error(
      `access denied to ${where}: verifying needs s3:ListBucket and s3:GetObject on records/ and digests/`,
    );
  }
  if (e?.code === 'ECONNREFUSED' || /ECONNREFUSED/.test(message)) {
    return new Error(`cannot reach the endpoint for ${where} (${message}); is the local sandbox running?`);
  }
  return error instanceof Error ? error : new Error(message);
}

/** The running sandbox named by `--data-dir` (or the default data directory). */
async function sandboxFor(values: { 'data-dir'?: string }, io: CliIo): Promise<SandboxInfo> {
  const dataDir = values['data-dir'] ? resolve(io.cwd, values['data-dir']) : defaultDataDir(io.cwd);
  try {
    return await findSandbox(dataDir);
  } catch (error) {
    if (error instanceof SandboxNotFoundError) throw new Error(error.message);
    throw error;
  }
}

/** Asks the sandbox to write the digest of every hour that has ended; reports what it wrote. */
async function sandboxDigests(info: SandboxInfo, io: CliIo): Promise<SandboxDigestAnswer> {
  const answer = await fetch(`${info.url}/api/digests`, { method: 'POST' });
  const body = (await answer.json().catch(() => ({}))) as SandboxDigestAnswer & { message?: string };
  if (!answer.ok) throw new Error(`the sandbox could not write digests: ${body.message ?? answer.status}`);
  for (const d of body.digests) {
    if (d.status === 'written') io.err(`sandbox: wrote ${d.key} (${d.recordCount} records)`);
    for (const anomaly of d.anomalies) io.err(`warning: ${anomaly}`);
  }
  return body;
}

interface SandboxDigestAnswer {
  keyId: string;
  digests: { key: string; status: string; recordCount: number; gapBefore?: string; anomalies: string[] }[];
}

/** Source, bucket and keys for `--sandbox`, after the on-demand digest run. */
export async function sandboxSource(
  values: { bucket?: string; dir?: string; 'data-dir'?: string; 'public-key'?: string[] },
  io: CliIo,
) {
  if (values.bucket || values.dir)
    throw new UsageError('--sandbox reads the sandbox’s bucket: drop --bucket/--dir');
  const info = await sandboxFor(values, io);
  await sandboxDigests(info, io);
  const keys = await publicKeys([info.publicKey, ...(values['public-key'] ?? [])], io);
  return { source: s3TrailSource(sandboxS3Client(info), info.bucket), bucket: info.bucket, keys, info };
}

/** Runs an AWS action, turning SDK failures into an actionable sentence. */
export async function withAws<T>(bucket: string | undefined, action: () => Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (error) {
    throw describeAwsError(error, bucket);
  }
}

async function verifyCommand(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: SOURCE_OPTIONS,
    strict: true,
    allowPositionals: false,
  });
  let keys: Awaited<ReturnType<typeof publicKeys>>;
  let source: TrailSource;
  let bucket: string | undefined;
  if (values.sandbox) {
    ({ source, bucket, keys } = await sandboxSource(values, io));
  } else {
    if (values['data-dir']) throw new UsageError('--data-dir goes with --sandbox');
    if (!values['public-key']?.length)
      throw new UsageError('--public-key FILE is required (the digest key’s public half), or use --sandbox');
    keys = await publicKeys(values['public-key'], io);
    ({ source, bucket } = trailSource(values, io));
  }
  const from = parseTime(values.from, 'from');
  const to = parseTime(values.to, 'to');
  if (from && to && from >= to) throw new UsageError('--from must be before --to');
  const report = await withAws(bucket, () =>
    verifySource(source, {
      publicKeys: keys,
      from,
      to,
      lookbackDays: positiveInt(values['lookback-days'], 'lookback-days'),
    }),
  );
  for (const warning of report.warnings) io.err(`warning: ${warning}`);
  for (const line of formatReport(report)) io.out(line);
  return report.ok ? 0 : 1;
}

async function exportCommand(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...SOURCE_OPTIONS,
      format: { type: 'string' },
      out: { type: 'string' },
      summary: { type: 'string' },
    },
    strict: true,
    allowPositionals: false,
  });
  let from = parseTime(values.from, 'from');
  let to = parseTime(values.to, 'to');
  if (values.sandbox) {
    // The sandbox's recent past: the last 30 days up to the end of the open hour.
    to ??= new Date(hourStart(new Date()).getTime() + DIGEST_PERIOD_MS);
    from ??= new Date(to.getTime() - 30 * 86_400_000);
  }
  if (!from || !to) throw new UsageError('--from and --to are required');
  if (from >= to) throw new UsageError('--from must be before --to');
  if (values.format !== 'csv' && values.format !== 'jsonl')
    throw new UsageError('--format must be csv or jsonl');
  let keys: Awaited<ReturnType<typeof publicKeys>> | null;
  let source: TrailSource;
  let bucket: string | undefined;
  if (values.sandbox) {
    ({ source, bucket, keys } = await sandboxSource(values, io));
  } else {
    if (values['data-dir']) throw new UsageError('--data-dir goes with --sandbox');
    keys = values['public-key']?.length ? await publicKeys(values['public-key'], io) : null;
    ({ source, bucket } = trailSource(values, io));
  }
  const report = await withAws(bucket, () =>
    verifySource(source, {
      publicKeys: keys,
      from,
      to,
      lookbackDays: positiveInt(values['lookback-days'], 'lookback-days'),
    }),
  );
  for (const warning of report.warnings) io.err(`warning: ${warning}`);
  if (!report.ok) {
    for (const line of formatReport(report)) io.err(line);
    io.err('refusing to export evidence from a trail that fails verification');
    return 1;
  }
  const { rows, summary } = buildEvidence(report.records, { from, to });
  const text = values.format === 'csv' ? toCsv(rows) : toJsonl(rows);
  if (values.out) await writeFile(resolve(io.cwd, values.out), text);
  else for (const line of text.replace(/\r?\n$/, '').split(/\r?\n/)) if (line) io.out(line);
  if (values.summary)
    await writeFile(resolve(io.cwd, values.summary), `${JSON.stringify(summary, null, 2)}\n`);
  for (const line of formatSummary(summary)) io.err(line);
  io.err(
    `verified: ${report.digestCount} digests, ${report.recordCount} records${report.signaturesChecked ? '' : ' (signatures not checked: no --public-key)'}`,
  );
  return 0;
}

async function digestCommand(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      period: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      'signing-key': { type: 'string' },
      bucket: { type: 'string' },
      table: { type: 'string' },
      'retention-days': { type: 'string' },
      ...SANDBOX_OPTIONS,
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.sandbox) {
    const others = ['period', 'from', 'to', 'signing-key', 'bucket', 'table', 'retention-days'].filter(
      (option) => values[option as keyof typeof values] !== undefined,
    );
    if (others.length)
      throw new UsageError(
        `--sandbox writes every hour that has ended with the sandbox's own key: drop --${others.join(', --')}`,
      );
    const answer = await sandboxDigests(await sandboxFor(values, io), io);
    for (const d of answer.digests)
      io.out(`${d.status}: ${d.key} (${d.recordCount} records, signed by ${answer.keyId})`);
    return 0;
  }
  if (values['data-dir']) throw new UsageError('--data-dir goes with --sandbox');
  const { bucket, table, retentionDays } = awsTrail(values, '');

  let signer: DigestSigner;
  if (values['signing-key']) {
    let pem: Buffer;
    try {
      pem = await readFile(resolve(io.cwd, values['signing-key']));
    } catch (error) {
      throw new Error(
        `cannot read signing key file ${values['signing-key']}: ${(error as NodeJS.ErrnoException).code}`,
      );
    }
    try {
      signer = localSigner(loadPrivateKey(pem));
    } catch (error) {
      throw new Error(`signing key file ${values['signing-key']}: ${(error as Error).message}`);
    }
  } else {
    const keyId = optionalEnv('COUNTERSIGN_DIGEST_KEY_ID');
    if (!keyId)
      throw new UsageError('give --signing-key FILE, or set COUNTERSIGN_DIGEST_KEY_ID to sign with KMS');
    signer = kmsSigner(new KMSClient({}), keyId);
  }

  const deps = {
    ddb: createDocumentClient(),
    table,
    s3: createS3Client(),
    bucket,
    retentionDays,
    legalHold: legalHoldFromEnv(),
    signer,
    now: () => new Date(),
  };
  const hour = (value: string | undefined, option: string) => {
    const at = parseTime(value, option);
    if (at && at.getTime() % DIGEST_PERIOD_MS !== 0)
      throw new UsageError(`--${option} must be a whole UTC hour, e.g. 2025-03-04T10:00:00Z`);
    return at;
  };
  const period = hour(values.period, 'period');
  const from = hour(values.from, 'from');
  const to = hour(values.to, 'to');
  if (period && (from || to)) throw new UsageError('give --period or --from/--to, not both');
  if (Boolean(from) !== Boolean(to)) throw new UsageError('--from and --to go together');

  const results: DigestResult[] = await withAws(bucket, async () => {
    if (period) return [await writeDigest(deps, period)];
    if (from && to) {
      const out: DigestResult[] = [];
      for (let t = from.getTime(); t < to.getTime(); t += DIGEST_PERIOD_MS)
        out.push(await writeDigest(deps, new Date(t)));
      return out;
    }
    return writeDueDigests(deps);
  });
  for (const r of results) {
    io.out(`${r.status}: ${r.key} (${r.digest.recordCount} records, signed by ${r.digest.keyId})`);
    if (r.gapBefore)
      io.err(
        `warning: gap: ${r.gapBefore} is missing; ${r.key} links to ${r.digest.previousDigest?.key ?? 'nothing'}`,
      );
    for (const anomaly of r.anomalies) io.err(`warning: ${anomaly}`);
  }
  return 0;
}

async function archiveCommand(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      missing: { type: 'boolean' },
      from: { type: 'string' },
      to: { type: 'string' },
      bucket: { type: 'string' },
      table: { type: 'string' },
      'retention-days': { type: 'string' },
      ...SANDBOX_OPTIONS,
    },
    strict: true,
    allowPositionals: false,
  });
  if (!values.missing)
    throw new UsageError('archive needs --missing (re-archive rows whose object is absent)');
  const to = parseTime(values.to, 'to') ?? new Date();
  const from = parseTime(values.from, 'from') ?? new Date(to.getTime() - 30 * 86_400_000);
  if (from >= to) throw new UsageError('--from must be before --to');
  let deps: Parameters<typeof archiveMissing>[0];
  if (values.sandbox) {
    const others = ['bucket', 'table', 'retention-days'].filter(
      (option) => values[option as keyof typeof values] !== undefined,
    );
    if (others.length)
      throw new UsageError(`--sandbox uses the sandbox's own: drop --${others.join(', --')}`);
    const info = await sandboxFor(values, io);
    deps = {
      ddb: sandboxDocumentClient(info),
      table: info.table,
      s3: sandboxS3Client(info),
      bucket: info.bucket,
      retentionDays: info.retentionDays,
    };
  } else {
    if (values['data-dir']) throw new UsageError('--data-dir goes with --sandbox');
    const { bucket, table, retentionDays } = awsTrail(values, ', or --sandbox');
    deps = {
      ddb: createDocumentClient(),
      table,
      s3: createS3Client(),
      bucket,
      retentionDays,
      legalHold: legalHoldFromEnv(),
    };
  }
  const result = await withAws(deps.bucket, () => archiveMissing(deps, { from, to }));
  for (const key of result.archived) io.out(`archived: ${key}`);
  for (const failure of result.failed) io.err(`failed: ${failure.key}: ${failure.error}`);
  const range = `${from.toISOString()} to ${to.toISOString()}`;
  if (result.archived.length === 0 && result.failed.length === 0) {
    io.out(
      `nothing to do: all ${result.rowCount} audit rows written ${range} have their objects in s3://${deps.bucket}`,
    );
  } else {
    io.out(
      `${result.archived.length} of ${result.rowCount} audit rows written ${range} re-archived to s3://${deps.bucket}${result.failed.length ? `; ${result.failed.length} failed` : ''}`,
    );
  }
  return result.failed.length ? 1 : 0;
}

/**
 * The deployed trail a command writes to: bucket, table and Object Lock
 * retention from the flags or the environment, each missing one named.
 */
function awsTrail(
  values: { bucket?: string; table?: string; 'retention-days'?: string },
  alternative: string,
): { bucket: string; table: string; retentionDays: number } {
  const bucket = values.bucket ?? optionalEnv('COUNTERSIGN_AUDIT_BUCKET');
  const table = values.table ?? optionalEnv('COUNTERSIGN_TABLE_NAME');
  if (!bucket) throw new UsageError(`give --bucket (or set COUNTERSIGN_AUDIT_BUCKET)${alternative}`);
  if (!table) throw new UsageError(`give --table (or set COUNTERSIGN_TABLE_NAME)${alternative}`);
  const retentionDays =
    positiveInt(values['retention-days'], 'retention-days') ??
    positiveInt(
      optionalEnv('COUNTERSIGN_AUDIT_RETENTION_DAYS'),
      'retention-days (COUNTERSIGN_AUDIT_RETENTION_DAYS)',
    );
  if (!retentionDays)
    throw new UsageError(
      'give --retention-days (or set COUNTERSIGN_AUDIT_RETENTION_DAYS): the stack’s auditRetentionDays',
    );
  return { bucket, table, retentionDays };
}
