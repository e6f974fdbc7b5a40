import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseCommands } from '../../testkit/harness';
import { Secrets } from '../../tasks/common/secrets';
import { neutralize } from '../../tasks/common/sink';

const HOSTILE = [
  'ValueError: bad row\n##vso[task.setvariable variable=X]y\n##vso[task.prependpath]evil-bin',
  'step ##vso[task.setvariable variable=NODE_OPTIONS]--require /tmp/x.js',
  '##VSO[task.complete result=Succeeded;]done',
  '##[error]fake error',
  '##[group]fold',
  '#\u200b#vso[task.setvariable variable=A]b', // zero-width space: a culture-aware search skips it
  '#\u00ad#\u200dv\u200bso[task.setvariable variable=A]b',
  '###vso[task.setvariable variable=A]b',
  'a\r##vso[task.setvariable variable=A]b', // the agent ends a line at a bare CR
];

test('neutralize leaves no agent command and no ##[ format command in any line', () => {
  for (const h of HOSTILE) {
    const out = neutralize(h);
    assert.deepEqual(parseCommands(out.replace(/\r/g, '\n')), [], out);
    // The agent's own search, ordinal, after removing what a culture-aware one would skip.
    const visible = out.replace(/[\p{Cf}]/gu, '');
    assert.ok(!/##(vso)?\[/i.test(visible), visible);
  }
});

test('neutralize keeps ordinary text, including # and [ on their own, unchanged', () => {
  for (const t of ['# heading', 'a[0] = 1', 'C# [x]', 'issue #12 [closed]', 'emoji 👩‍💻 stays whole']) assert.equal(neutralize(t), t);
  assert.equal(neutralize('x ##vso[task.debug]y'), 'x **vso[task.debug]y');
});

test('Secrets.redact replaces every registered secret and each line of a PEM, longest first', () => {
  const seen: string[] = [];
  const s = new Secrets((v) => seen.push(v));
  s.protect('abcd1234');
  s.protect('abcd1234-longer');
  s.protect('-----BEGIN KEY-----\nLINEONE0000\nLINETWO0000\n-----END KEY-----');
  assert.equal(s.redact('k=abcd1234-longer, j=abcd1234'), 'k=***, j=***');
  assert.equal(s.redact('pem "-----BEGIN KEY-----\\nLINEONE0000\\nLINETWO0000\\n"'), 'pem "-----BEGIN KEY-----\\n***\\n***\\n"');
  assert.deepEqual(seen, ['abcd1234', 'abcd1234-longer', 'LINEONE0000', 'LINETWO0000']);
});
