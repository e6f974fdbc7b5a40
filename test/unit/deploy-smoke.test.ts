import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { UserError } from '../../tasks/common/errors';
import { evaluate, parseExpectation, parseJsonPath, parseSmokeBody, valueAt } from '../../tasks/AmlAksDeploy/smoke';

const refuses = (text: string, message: RegExp) =>
  assert.throws(
    () => parseExpectation(text),
    (e: unknown) => {
      assert.ok(e instanceof UserError);
      assert.equal(e.input, 'smokeTestExpect');
      assert.match(e.message, message);
      return true;
    },
  );

describe('smokeTestExpect: the format task.json promises', () => {
  test('the three examples from the help text', () => {
    assert.deepEqual(parseExpectation('200'), { status: 200, text: '200' });
    const eq = parseExpectation('200; $.predictions[0] == 1');
    assert.deepEqual(eq.check, {
      kind: 'compare',
      path: ['predictions', 0],
      pathText: '$.predictions[0]',
      op: '==',
      value: 1,
      valueText: '1',
    });
    const range = parseExpectation('200; $[0] in 0..1');
    assert.deepEqual(range.check, { kind: 'range', path: [0], pathText: '$[0]', min: 0, max: 1 });
  });

  test('default 200; every operator; negative and decimal bounds; quoted and bare strings', () => {
    assert.equal(parseExpectation(undefined).status, 200);
    assert.equal(parseExpectation('  ').status, 200);
    for (const op of ['==', '!=', '<', '<=', '>', '>='])
      assert.equal((parseExpectation(`200;$.p ${op} 0.5`).check as { op: string }).op, op);
    assert.deepEqual(parseExpectation('200; $.score in -1.5 .. 2e1').check, {
      kind: 'range',
      path: ['score'],
      pathText: '$.score',
      min: -1.5,
      max: 20,
    });
    assert.equal((parseExpectation('200; $.label == "cat"').check as { value: unknown }).value, 'cat');
    assert.equal((parseExpectation('200; $.label == cat').check as { value: unknown }).value, 'cat');
    assert.deepEqual((parseExpectation('200; $.v == [1,2]').check as { value: unknown }).value, [1, 2]);
    assert.equal((parseExpectation('201; $.ok == true').check as { value: unknown }).value, true);
  });

  test('refuses what it cannot read, saying how to write it', () => {
    refuses('OK', /'OK' is not an HTTP status code/);
    refuses('2000', /not an HTTP status code/);
    refuses('200;', /nothing follows/);
    refuses('200; predictions[0] == 1', /does not start with a JSON path/);
    refuses('200; $.x ~ 3', /has no operator/);
    refuses('200; $.x > big', /'>' compares numbers, but big is not a number/);
    refuses('200; $.x in 2..1', /the range 2\.\.1 is empty/);
    refuses('200; $.x == 1; $.y == 2', /only one body check/);
    refuses('200; $.x == {"a":', /not valid JSON/);
    refuses('200; $..x == 1', /cannot be read at '\.\.x == 1'|cannot be read at/);
  });

  test('JSON paths: dots, brackets, quoted names and indexes', () => {
    assert.deepEqual(parseJsonPath('$'), []);
    assert.deepEqual(parseJsonPath('$.a[\'b c\'][2]["d"]'), ['a', 'b c', 2, 'd']);
    assert.deepEqual(valueAt({ a: [{ b: 3 }] }, ['a', 0, 'b']), { found: true, value: 3 });
    assert.deepEqual(valueAt({ a: [] }, ['a', 0]), { found: false, at: '$.a[0]' });
  });
});

describe('judging a response', () => {
  test('status only', () => {
    assert.deepEqual(evaluate(parseExpectation('200'), 200, 'anything'), { ok: true, detail: 'HTTP 200' });
    const bad = evaluate(parseExpectation('200'), 500, '{"error": "boom"}\n');
    assert.equal(bad.ok, false);
    assert.equal(bad.detail, 'HTTP 500, expected 200: {"error": "boom"}');
  });

  test('comparisons, ranges and equality on the JSON body', () => {
    const body = JSON.stringify({ predictions: [0.7], label: 'cat', meta: { n: 2 } });
    assert.equal(evaluate(parseExpectation('200; $.predictions[0] in 0..1'), 200, body).ok, true);
    assert.equal(evaluate(parseExpectation('200; $.predictions[0] >= 0.8'), 200, body).ok, false);
    assert.equal(evaluate(parseExpectation('200; $.label == cat'), 200, body).ok, true);
    assert.equal(evaluate(parseExpectation('200; $.label != "dog"'), 200, body).ok, true);
    assert.equal(evaluate(parseExpectation('200; $.meta == {"n":2}'), 200, body).ok, true);
    assert.equal(evaluate(parseExpectation('200; $.predictions[0] == "0.7"'), 200, body).ok, false, 'a number is not a string');
    assert.match(
      evaluate(parseExpectation('200; $.predictions[0] in 0..0.5'), 200, body).detail,
      /\$\.predictions\[0\] = 0\.7 is not in 0\.\.0\.5/,
    );
  });

  test('missing values, non-numbers and non-JSON bodies fail with what was seen', () => {
    assert.match(evaluate(parseExpectation('200; $.x[3] == 1'), 200, '{"x":[1]}').detail, /has no \$\.x\[3\]/);
    assert.match(evaluate(parseExpectation('200; $.x > 1'), 200, '{"x":"2"}').detail, /"2" is not a number/);
    assert.match(evaluate(parseExpectation('200; $.x > 1'), 200, 'plain text').detail, /not JSON/);
  });
});

describe('smoke request file', () => {
  test('must be JSON (a BOM is fine) and small', () => {
    assert.deepEqual(parseSmokeBody('\ufeff{"data": [1]}', 'req.json'), { data: [1] });
    assert.throws(() => parseSmokeBody('{"data": [1,', 'req.json'), /Input 'smokeTestFile': 'req\.json' is not JSON/);
    assert.throws(() => parseSmokeBody(`"${'x'.repeat(1024 * 1024)}"`, 'big.json'), /larger than 1 MiB/);
  });
});
