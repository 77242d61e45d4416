import { hostname } from 'node:os';
import { expect } from 'chai';
import { consumerName } from '../../lib/bus/redis.js';

describe('consumer name', () => {
  it('takes CONSUMER_NAME first, then DYNO, then host and pid', () => {
    expect(consumerName({ CONSUMER_NAME: 'payment-a', DYNO: 'payment.1' })).to.equal('payment-a');
    expect(consumerName({ DYNO: 'payment.2' })).to.equal('payment.2');
    expect(consumerName({})).to.equal(`${hostname()}-${process.pid}`);
  });
});
