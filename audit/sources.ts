/**
 * Where a trail is read from: the audit bucket (S3, standard AWS credentials
 * and endpoints, so `AWS_ENDPOINT_URL_S3` points it at a local sandbox), a
 * local directory that mirrors the bucket's key layout, or memory. A trail is
 * the text of every digest and record object the verifier looks at.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { RECORDS_PREFIX } from '../lambdas/shared/audit.js';
import { DIGESTS_PREFIX, hourStart, parseDigestObjectKey } from '../lambdas/shared/digest.js';
import { isNotFound } from '../lambdas/shared/s3.js';

/** Read access to a bucket-shaped store of audit objects. */
export interface TrailSource {
  /** For messages: `s3://bucket`, a directory path, `memory`. */
  readonly description: string;
  /** Every key under `prefix`, in any order. */
  list(prefix: string): Promise<string[]>;
  /** The UTF-8 text of an object, or undefined when it does not exist. */
  get(key: string): Promise<string | undefined>;
}

/** The objects of a trail, by key. */
export interface Trail {
  source: string;
  digests: Map<string, string>;
  records: Map<string, string>;
}

/** What part of a trail to load. */
export interface LoadOptions {
  /** Load digests for periods starting at or after this hour (and the one before, to check its link). */
  from?: Date;
  /** Load digests for periods starting before this time. */
  to?: Date;
  /**
   * Records are stored under their request's creation day; a request created
   * up to this many days before `from` can still have records in the range.
   * @default 30
   */
  lookbackDays?: number;
  /** Parallel object reads. @default 32 */
  concurrency?: number;
}

const DAY_MS = 86_400_000;

/** A source over an S3 bucket. */
export function s3TrailSource(s3: S3Client, bucket: string): TrailSource {
  return {
    description: `s3://${bucket}`,
    async list(prefix) {
      const keys: string[] = [];
      let token: string | undefined;
      do {
        const out = await s3.send(
          new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
        );
        for (const object of out.Contents ?? []) if (object.Key) keys.push(object.Key);
        token = out.IsTruncated ? out.NextContinuationToken : undefined;
      } while (token);
      return keys;
    },
    async get(key) {
      try {
        const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        return await out.Body!.transformToString('utf8');
      } catch (error) {
        if (isNotFound(error)) return undefined;
        (error as Error).message = `reading ${key}: ${(error as Error).message}`;
        throw error;
      }
    },
  };
}

/** A source over a local directory whose relative paths are the bucket's keys. */
export function directoryTrailSource(directory: string): TrailSource {
  return {
    description: directory,
    async list(prefix) {
      // Walk only the deepest existing directory the prefix names, then filter.
      const dirPart = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
      const keys: string[] = [];
      const walk = async (dir: string): Promise<void> => {
        let entries: import('node:fs').Dirent[];
        try {
          entries = await readdir(dir, { withFileTypes: true });
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
          throw error;
        }
        for (const entry of entries) {
          const path = join(dir, entry.name);
          if (entry.isDirectory()) await walk(path);
          else if (entry.isFile()) {
            const key = relative(directory, path).split(sep).join('/');
            if (key.startsWith(prefix)) keys.push(key);
          }
        }
      };
      await walk(join(directory, ...dirPart.split('/').filter(Boolean)));
      return keys;
    },
    async get(key) {
      try {
        return await readFile(join(directory, ...key.split('/')), 'utf8');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw error;
      }
    },
  };
}

/** A source over objects held in memory (tests, the benchmark). */
export function memoryTrailSource(objects: ReadonlyMap<string, string>): TrailSource {
  return {
    description: 'memory',
    list: async (prefix) => [...objects.keys()].filter((key) => key.startsWith(prefix)),
    get: async (key) => objects.get(key),
  };
}

function dayPrefixes(prefix: string, from: Date, to: Date): string[] {
  const prefixes: string[] = [];
  for (let t = Math.floor(from.getTime() / DAY_MS) * DAY_MS; t < to.getTime(); t += DAY_MS) {
    const s = new Date(t).toISOString();
    prefixes.push(`${prefix}${s.slice(0, 4)}/${s.slice(5, 7)}/${s.slice(8, 10)}/`);
  }
  return prefixes;
}

/** Reads `keys` with bounded parallelism into a map (absent objects are left out). */
async function fetchAll(
  source: TrailSource,
  keys: string[],
  concurrency: number,
): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let next = 0;
  const worker = async () => {
    while (next < keys.length) {
      const key = keys[next++]!;
      const text = await source.get(key);
      if (text !== undefined) out.set(key, text);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, keys.length)) }, worker));
  return out;
}

/**
 * Loads the digests and records a verification of [from, to) needs. Without
 * `from`/`to`, everything under `digests/` and `records/`.
 */
export async function loadTrail(source: TrailSource, options: LoadOptions = {}): Promise<Trail> {
  const concurrency = options.concurrency ?? 32;
  let digestKeys: string[];
  let recordKeys: string[];
  if (!options.from && !options.to) {
    [digestKeys, recordKeys] = await Promise.all([source.list(DIGESTS_PREFIX), source.list(RECORDS_PREFIX)]);
  } else {
    const to = options.to ?? new Date(Date.now() + DAY_MS);
    const from = options.from ?? new Date(0);
    const digestFrom = new Date(hourStart(from).getTime() - 3_600_000);
    const lookback = (options.lookbackDays ?? 30) * DAY_MS;
    const recordFrom = new Date(Math.max(0, from.getTime() - lookback));
    const unbounded = !options.from;
    const lists = await Promise.all([
      ...(unbounded
        ? [source.list(DIGESTS_PREFIX)]
        : dayPrefixes(DIGESTS_PREFIX, digestFrom, to).map((p) => source.list(p))),
    ]);
    digestKeys = lists.flat().filter((key) => {
      const start = parseDigestObjectKey(key);
      return !start || (start >= digestFrom && start < to);
    });
    const recordLists = await Promise.all(
      unbounded
        ? [source.list(RECORDS_PREFIX)]
        : dayPrefixes(RECORDS_PREFIX, recordFrom, to).map((p) => source.list(p)),
    );
    recordKeys = recordLists.flat();
  }
  const [digests, records] = await Promise.all([
    fetchAll(source, digestKeys, concurrency),
    fetchAll(source, recordKeys, concurrency),
  ]);
  return { source: source.description, digests, records };
}
