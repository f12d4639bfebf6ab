/**
 * The warm-Lambda cache of Slack directory lookups (`users.info`,
 * `users.lookupByEmail`, `usergroups.list`, `usergroups.users.list`). Slack
 * allows these 20 to 100 calls a minute per workspace; a burst of clicks or
 * reminders must cost one lookup per key and TTL, not one per request.
 * Concurrent lookups of one key share a request; failures are never cached.
 * Every cache counts its hits and misses under a name, so a bench can report
 * hit rates ({@link lookupCacheCounters}).
 */

/** Hits (answered from the cache, or joined a lookup in flight) and misses (went to Slack). */
export interface LookupCounts {
  hits: number;
  misses: number;
}

const counts = new Map<string, LookupCounts>();

/** Hits and misses of every cache in this process, by cache name (`users.info`, ...). */
export function lookupCacheCounters(): Record<string, LookupCounts> {
  return Object.fromEntries([...counts].map(([name, c]) => [name, { ...c }]));
}

/** Zeroes the counters (benches measure one run at a time). */
export function resetLookupCacheCounters(): void {
  counts.clear();
}

/** A TTL cache of promised lookups. */
export class LookupCache<T> {
  private readonly entries = new Map<string, { at: number; value: Promise<T> }>();
  constructor(
    /** The name its counters are reported under. */
    readonly name: string,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** The cached value of `key`, or the result of `load` (cached when it succeeds). */
  get(key: string, load: () => Promise<T>): Promise<T> {
    const count = counts.get(this.name) ?? { hits: 0, misses: 0 };
    counts.set(this.name, count);
    const hit = this.entries.get(key);
    if (hit && this.now() - hit.at < this.ttlMs) {
      count.hits += 1;
      return hit.value;
    }
    count.misses += 1;
    const value = load();
    this.entries.set(key, { at: this.now(), value });
    value.catch(() => {
      if (this.entries.get(key)?.value === value) this.entries.delete(key);
    });
    return value;
  }

  /** Forgets every entry. */
  clear(): void {
    this.entries.clear();
  }
}
