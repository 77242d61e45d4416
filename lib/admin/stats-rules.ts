/**
 * Saga latencies are counted in geometric buckets (lib/db/migrations/0005-admin-stats.ts): bucket b
 * holds latencies in (10·1.25^(b-1), 10·1.25^b] ms, bucket 0 those of 10 ms or less.
 */
const FIRST_BOUND_MS = 10;
const GROWTH = 1.25;
export const LAST_BUCKET = 60;

/** The upper bound of a bucket in ms: a quantile read from buckets is at most 25 % above the truth. */
export function bucketUpperMs(bucket: number): number {
  if (!Number.isInteger(bucket) || bucket < 0 || bucket > LAST_BUCKET)
    throw new RangeError(`no bucket ${bucket}`);
  return FIRST_BOUND_MS * GROWTH ** bucket;
}

/** The bucket a latency falls in (the same rule as the database's stats.latency_bucket). */
export function bucketOf(ms: number): number {
  if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`not a latency: ${ms}`);
  if (ms <= FIRST_BOUND_MS) return 0;
  return Math.min(LAST_BUCKET, Math.ceil(Math.log(ms / FIRST_BOUND_MS) / Math.log(GROWTH)));
}

/** The q-quantile (0 < q ≤ 1) of a histogram of bucket → count, as its bucket's upper bound; null if empty. */
export function quantileMs(histogram: ReadonlyMap<number, number>, q: number): number | null {
  if (!(q > 0 && q <= 1)) throw new RangeError(`quantile must be in (0, 1], got ${q}`);
  const buckets = [...histogram.entries()].filter(([, count]) => count > 0).sort(([a], [b]) => a - b);
  const total = buckets.reduce((sum, [, count]) => sum + count, 0);
  if (total === 0) return null;
  const rank = Math.ceil(q * total);
  let seen = 0;
  for (const [bucket, count] of buckets) {
    seen += count;
    if (seen >= rank) return bucketUpperMs(bucket);
  }
  return bucketUpperMs(buckets[buckets.length - 1]![0]);
}

/** Adds one histogram into another (bucket → count). */
export function addHistogram(into: Map<number, number>, bucket: number, count: number): void {
  into.set(bucket, (into.get(bucket) ?? 0) + count);
}
