/** Polling for the benchmarks: wait until a condition holds, or give up. */
import { performance } from 'node:perf_hooks';

/**
 * Checks `check` every `everyMs` until it holds (true) or `timeoutMs` has
 * passed (false). The poll interval sets the resolution of what is timed.
 */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  everyMs = 1,
): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return true;
}
