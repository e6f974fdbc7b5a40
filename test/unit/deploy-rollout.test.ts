import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { UserError } from '../../tasks/common/errors';
import {
  formatTraffic,
  parseRollout,
  planRollout,
  sameTraffic,
  serving,
  splitAt,
  total,
  trafficCommand,
} from '../../tasks/AmlAksDeploy/rollout';

const refuses = (fn: () => unknown, message: RegExp) =>
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof UserError, `a UserError, got ${String(e)}`);
    assert.equal(e.input, 'rollout');
    assert.match(e.message, message);
    return true;
  });

describe('rollout steps input', () => {
  test('reads commas, spaces and % signs, and defaults to 10,50,100', () => {
    assert.deepEqual(parseRollout('10,50,100'), [10, 50, 100]);
    assert.deepEqual(parseRollout(' 5, 25 ,50 , 100 '), [5, 25, 50, 100]);
    assert.deepEqual(parseRollout('10% 50% 100%'), [10, 50, 100]);
    assert.deepEqual(parseRollout('100'), [100]);
    assert.deepEqual(parseRollout(''), [10, 50, 100]);
    assert.deepEqual(parseRollout(undefined), [10, 50, 100]);
  });

  test('refuses steps that do not increase, repeat, leave 1..100, are not whole, or do not end at 100', () => {
    refuses(() => parseRollout('50,10,100'), /10 does not increase on 50/);
    refuses(() => parseRollout('10,10,100'), /10 does not increase on 10/);
    refuses(() => parseRollout('0,100'), /0 is outside 1\.\.100/);
    refuses(() => parseRollout('10,150'), /150 is outside 1\.\.100/);
    refuses(() => parseRollout('-10,100'), /'-10' is not a whole percent/);
    refuses(() => parseRollout('12.5,100'), /'12\.5' is not a whole percent/);
    refuses(() => parseRollout('ten,100'), /'ten' is not a whole percent/);
    refuses(() => parseRollout('10,50'), /the last step is 50%, not 100%/);
  });
});

describe('traffic split at a step', () => {
  test('one previous deployment takes the rest', () => {
    assert.deepEqual(splitAt({ blue: 100 }, 'green', 10), { blue: 90, green: 10 });
    assert.deepEqual(splitAt({ blue: 100 }, 'green', 100), { blue: 0, green: 100 });
  });

  test('several previous deployments share the rest in their old proportions, in whole percents summing to 100', () => {
    assert.deepEqual(splitAt({ blue: 80, canary: 20 }, 'green', 50), { blue: 40, canary: 10, green: 50 });
    const odd = splitAt({ a: 34, b: 33, c: 33 }, 'n', 10);
    assert.equal(total(odd), 100);
    // 90 shared as 30.6 / 29.7 / 29.7: floors 30, 29, 29; the two largest remainders get the 2 points left.
    assert.deepEqual(odd, { a: 30, b: 30, c: 30, n: 10 });
    for (let pct = 1; pct <= 100; pct++) {
      const t = splitAt({ a: 34, b: 33, c: 33 }, 'n', pct);
      assert.equal(total(t), 100, `at ${pct}%`);
      assert.equal(t.n, pct);
      assert.ok(Object.values(t).every((v) => Number.isInteger(v) && v >= 0));
      // The larger old share never ends up smaller.
      assert.ok(t.a! >= t.b! && t.a! >= t.c!, JSON.stringify(t));
    }
  });

  test('deployments at 0% stay at 0% and stay in the map', () => {
    assert.deepEqual(splitAt({ blue: 100, old: 0 }, 'green', 50), { blue: 50, old: 0, green: 50 });
  });

  test('with nothing serving before, only 100% is possible and the plan says so', () => {
    assert.throws(() => splitAt({}, 'green', 10), RangeError);
    assert.deepEqual(splitAt({}, 'green', 100), { green: 100 });
    assert.deepEqual(splitAt({ idle: 0 }, 'green', 100), { idle: 0, green: 100 });
    const plan = planRollout({}, [10, 50, 100]);
    assert.deepEqual(plan.steps, [100]);
    assert.match(plan.note!, /no deployment serves traffic/);
    assert.deepEqual(planRollout({ blue: 100 }, [10, 50, 100]), { steps: [10, 50, 100] });
  });
});

describe('reading and comparing splits', () => {
  test('serving lists deployments with traffic, largest first', () => {
    assert.deepEqual(serving({ a: 10, b: 0, c: 90 }), ['c', 'a']);
    assert.equal(formatTraffic({ blue: 90, green: 10, old: 0 }), 'blue 90%, green 10%');
    assert.equal(formatTraffic({}), 'no traffic');
  });

  test('0% entries do not make two splits differ', () => {
    assert.ok(sameTraffic({ blue: 100 }, { blue: 100, green: 0 }));
    assert.ok(!sameTraffic({ blue: 100 }, { blue: 90, green: 10 }));
  });

  test('the restore command names every deployment of the previous split', () => {
    assert.equal(trafficCommand('taxi', { blue: 100, old: 0 }), 'az ml online-endpoint update --name taxi --traffic "blue=100 old=0"');
  });
});
