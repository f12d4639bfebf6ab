/**
 * The sandbox's digest signer: its own P-256 key in the data directory
 * (created on first start, kept across restarts, removed by `--reset`) and the
 * digest core of the hourly Lambda (`lambdas/digest/core.ts`), run on the
 * configured `digestSchedule` the way EventBridge Scheduler runs it in AWS,
 * plus on demand and at shutdown.
 *
 * A digest lists every record of one whole UTC hour, so the hour that is
 * still open is never digested (a record appended later in that hour would be
 * in no digest). Its records are verified by hash and chain and reported as
 * pending until the hour ends; the next run, on demand or at start, digests it.
 */
import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type DigestDeps, type DigestResult, writeDueDigests } from '../lambdas/digest/core.js';
import { type DigestSigner, loadPrivateKey, localSigner } from '../lambdas/shared/digest.js';
import { DIGEST_KEY_FILE, DIGEST_PUBLIC_KEY_FILE } from './sandbox-info.js';

/** The sandbox's digest key. */
export interface LocalDigestKey {
  signer: DigestSigner;
  publicKey: KeyObject;
  /** The public key as PEM (SPKI). */
  publicKeyPem: string;
  /** Where the public key is stored; absent for an in-memory key (no data directory). */
  publicKeyFile?: string;
  /** True when this start created the key. */
  created: boolean;
}

/**
 * Loads the digest key from `dataDir`, creating it on first use (private key
 * readable by the owner only). Without a data directory the key lives in
 * memory for the process's lifetime.
 */
export async function loadOrCreateDigestKey(dataDir?: string): Promise<LocalDigestKey> {
  const fromPrivate = (privateKey: KeyObject, created: boolean, publicKeyFile?: string): LocalDigestKey => {
    const publicKey = createPublicKey(privateKey);
    return {
      signer: localSigner(privateKey),
      publicKey,
      publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }) as string,
      ...(publicKeyFile ? { publicKeyFile } : {}),
      created,
    };
  };
  const generate = () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  if (dataDir === undefined) return fromPrivate(generate(), true);

  const privateFile = join(dataDir, DIGEST_KEY_FILE);
  const publicFile = join(dataDir, DIGEST_PUBLIC_KEY_FILE);
  let pem: string | undefined;
  try {
    pem = await readFile(privateFile, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  let key: LocalDigestKey;
  if (pem === undefined) {
    await mkdir(dataDir, { recursive: true });
    const privateKey = generate();
    // `wx`: never overwrite a key a concurrent start may just have written.
    await writeFile(privateFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), {
      mode: 0o600,
      flag: 'wx',
    });
    key = fromPrivate(privateKey, true, publicFile);
  } else {
    try {
      key = fromPrivate(loadPrivateKey(pem), false, publicFile);
    } catch (error) {
      throw new Error(
        `${privateFile}: ${(error as Error).message} (remove it, or start with --reset, to get a new key)`,
      );
    }
  }
  // Rewritten from the private key on every start, so it always matches.
  await writeFile(publicFile, key.publicKeyPem);
  return key;
}

/**
 * How often the scheduled run fires for a `digestSchedule` expression:
 * `rate(N minute|hour|day[s])` as written; a `cron(…)` expression runs hourly
 * here (each run writes every due hour, so only the timing differs).
 */
export function scheduleIntervalMs(expression: string): number {
  const rate = /^rate\((\d+) (minute|hour|day)s?\)$/.exec(expression);
  if (!rate) return 3_600_000;
  const unit = { minute: 60_000, hour: 3_600_000, day: 86_400_000 }[rate[2] as 'minute' | 'hour' | 'day'];
  return Number(rate[1]) * unit;
}

/**
 * Settle time of on-demand and shutdown runs. Locally a record reaches the
 * index in the same write, so an hour can be digested as soon as it ended;
 * ten seconds leave room for a record stamped just before the hour turned
 * whose write is still on its way.
 */
export const ON_DEMAND_SETTLE_MS = 10_000;

/** Runs the digest core on a schedule, on demand and at shutdown; runs never overlap. */
export class LocalDigests {
  private timer?: NodeJS.Timeout;
  private chain: Promise<unknown> = Promise.resolve();
  private readonly deps: DigestDeps;

  constructor(
    deps: Omit<DigestDeps, 'signer'>,
    /** The key digests are signed with. */
    readonly key: LocalDigestKey,
    private readonly intervalMs: number,
    private readonly onError: (error: Error) => void = (error) =>
      console.error(`sandbox digest run failed: ${error.message}`),
  ) {
    this.deps = { ...deps, signer: key.signer };
  }

  /**
   * Writes every digest due now, as the scheduled Lambda does: the latest hour
   * that ended at least `settleMs` ago, after any hours missed since the
   * latest digest (a stopped sandbox catches up here).
   */
  writeDue(settleMs?: number): Promise<DigestResult[]> {
    const run = this.chain.then(() => writeDueDigests(this.deps, { settleMs }));
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** Writes the digest of every hour that has ended (on demand, at start and at shutdown). */
  writeEnded(): Promise<DigestResult[]> {
    return this.writeDue(ON_DEMAND_SETTLE_MS);
  }

  /** Runs on the schedule from now on, and catches up at once (resolves when the catch-up is done). */
  start(): Promise<DigestResult[]> {
    this.timer = setInterval(() => {
      this.writeDue().catch((error: Error) => this.onError(error));
    }, this.intervalMs);
    this.timer.unref();
    return this.writeEnded();
  }

  /** Stops the schedule and writes what has ended (the shutdown run). */
  async close(): Promise<DigestResult[]> {
    clearInterval(this.timer);
    this.timer = undefined;
    return this.writeEnded();
  }
}
