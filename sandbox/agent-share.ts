/**
 * Each agent's share of the sandbox's one process.
 *
 * On AWS every Lambda invocation runs in an execution environment of its own:
 * an agent publishing fifty intents a second takes fifty environments and
 * slows nobody else's Evaluate or Review. The sandbox runs every invocation
 * in one Node process, where unbounded concurrency means processor sharing:
 * a flood's hundreds of in-flight invocations would each get the same slice
 * of the CPU as another agent's one, and that agent would wait behind the
 * flood for as long as the flood lasts.
 *
 * So the local workflow runs at most `limit` task invocations of one agent
 * at a time; the agent's others wait their turn, in order, behind its own.
 * An agent that publishes no faster than the process keeps up never waits
 * here; one that publishes faster waits behind itself, as on AWS it would
 * wait for nothing at all. Nothing is dropped or reordered within an agent:
 * a waiting invocation always runs.
 *
 * The sandbox's bus takes any source (IAM is not evaluated here), so a share
 * per source would let one publisher claim a share for every source it
 * invents. Given the registered agents' sources, every other source shares
 * one turn, {@link UNREGISTERED}: on AWS, IAM refuses those events outright.
 */
/** The one share of every source that names no registered agent. */
export const UNREGISTERED = '(unregistered sources)';

export class AgentShare {
  private readonly active = new Map<string, number>();
  private readonly waiting = new Map<string, (() => void)[]>();
  /** The longest any invocation waited for its turn, in ms, by agent. */
  readonly longestWaitMs = new Map<string, number>();

  constructor(
    readonly limit: number,
    /** The registered agents' sources; others share {@link UNREGISTERED}. @default - every source is its own */
    private readonly registered?: ReadonlySet<string>,
  ) {
    if (!Number.isInteger(limit) || limit < 1)
      throw new Error(`agent share: limit must be a positive integer, not ${limit}`);
  }

  /** Runs `work` once fewer than `limit` of `source`'s invocations (or the unregistered ones') run. */
  async run<T>(source: string, work: () => Promise<T>): Promise<T> {
    const agent = this.keyOf(source);
    await this.turn(agent);
    try {
      return await work();
    } finally {
      this.release(agent);
    }
  }

  /** Invocations of `source` (or of the unregistered sources) running now and waiting for their turn. */
  load(source: string): { running: number; waiting: number } {
    const agent = this.keyOf(source);
    return { running: this.active.get(agent) ?? 0, waiting: this.waiting.get(agent)?.length ?? 0 };
  }

  /** The share a source's invocations take turns in. */
  keyOf(source: string): string {
    return !this.registered || this.registered.has(source) ? source : UNREGISTERED;
  }

  private turn(agent: string): Promise<void> {
    const running = this.active.get(agent) ?? 0;
    if (running < this.limit) {
      this.active.set(agent, running + 1);
      return Promise.resolve();
    }
    const since = performance.now();
    return new Promise((resolve) => {
      const queue = this.waiting.get(agent) ?? [];
      queue.push(() => {
        const waited = performance.now() - since;
        if (waited > (this.longestWaitMs.get(agent) ?? 0)) this.longestWaitMs.set(agent, waited);
        resolve();
      });
      this.waiting.set(agent, queue);
    });
  }

  /** Hands the slot to the agent's next waiting invocation, or frees it. */
  private release(agent: string): void {
    const queue = this.waiting.get(agent);
    const next = queue?.shift();
    if (queue && queue.length === 0) this.waiting.delete(agent);
    if (next) {
      next();
      return;
    }
    const running = (this.active.get(agent) ?? 1) - 1;
    if (running === 0) this.active.delete(agent);
    else this.active.set(agent, running);
  }
}
