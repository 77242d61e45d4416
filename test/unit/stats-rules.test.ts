import { expect } from 'chai';
import { bucketOf, bucketUpperMs, quantileMs } from '../../lib/admin/stats-rules.js';

describe('saga latency buckets', function () {
  it('puts each latency in the bucket whose upper bound is the first at or above it', () => {
    for (const ms of [0, 3, 10, 10.5, 12.5, 13, 250, 999, 1_000, 47_000, 120_000]) {
      const bucket = bucketOf(ms);
      expect(bucketUpperMs(bucket), `${ms} ms`).to.be.at.least(ms);
      if (bucket > 0) expect(bucketUpperMs(bucket - 1), `${ms} ms`).to.be.below(ms);
    }
  });

  it('reads a quantile from counts: at most 25 % above the true value', () => {
    const histogram = new Map<number, number>();
    const latencies = Array.from({ length: 100 }, (_, i) => 100 + i * 20);
    for (const ms of latencies) histogram.set(bucketOf(ms), (histogram.get(bucketOf(ms)) ?? 0) + 1);
    const trueP50 = latencies[49]!;
    const trueP95 = latencies[94]!;
    const p50 = quantileMs(histogram, 0.5)!;
    const p95 = quantileMs(histogram, 0.95)!;
    expect(p50)
      .to.be.at.least(trueP50)
      .and.at.most(trueP50 * 1.25);
    expect(p95)
      .to.be.at.least(trueP95)
      .and.at.most(trueP95 * 1.25);
  });

  it('has no quantile without sagas and refuses nonsense', () => {
    expect(quantileMs(new Map(), 0.5)).to.equal(null);
    expect(() => quantileMs(new Map([[1, 1]]), 0)).to.throw(RangeError);
    expect(() => bucketOf(-1)).to.throw(RangeError);
    expect(() => bucketUpperMs(61)).to.throw(RangeError);
  });
});
