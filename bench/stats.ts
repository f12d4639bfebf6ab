/** Small statistics helpers for the benchmarks. */

/** The q-quantile (0..1) of a sample, nearest-rank. */
export function quantile(values: number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[index]!;
}

/** The median of a sample. */
export const median = (values: number[]) => quantile(values, 0.5);
