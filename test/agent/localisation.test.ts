/**
 * Messages follow the agent's language: a built task with a translation in
 * Strings/resources.resjson/<culture>/resources.resjson prints that translation when the job's
 * System.Culture is that culture, for the task's own messages, the shared core's, and messages
 * of the lazily loaded azure.js bundle; other cultures fall back to English.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { DIST } from '../../testkit/harness';
import { startWorld, workspaceInputs, type World } from '../../testkit/world';

let w: World;
let taskDir: string;

const GERMAN = {
  'loc.messages.NothingToCheck':
    "Eingabe 'fqdns': nichts zu prüfen. Hostnamen in 'fqdns' angeben oder eine Dienstverbindung und einen Arbeitsbereich wählen.",
  'loc.messages.InvalidNumberInput': "Eingabe '%s' muss eine ganze Zahl zwischen %s und %s sein, ist aber '%s'.",
  'loc.messages.Discovered': '%s Namen aus %s Arbeitsbereich-Endpunkten und %s Abhängigkeiten ermittelt.',
};

before(async () => {
  w = await startWorld();
  // The built task as the agent unpacks it, plus a German translation next to the generated en-US one.
  taskDir = fs.mkdtempSync(path.join(os.tmpdir(), 'plc-de-'));
  fs.cpSync(path.join(DIST, 'AmlPrivateLinkCheck'), taskDir, { recursive: true });
  const de = path.join(taskDir, 'Strings', 'resources.resjson', 'de-DE');
  fs.mkdirSync(de, { recursive: true });
  // resjson files are often saved with a BOM by translation tools; task-lib strips it.
  fs.writeFileSync(path.join(de, 'resources.resjson'), `\uFEFF${JSON.stringify(GERMAN, null, 2)}`);
});

after(async () => {
  await w?.close();
  fs.rmSync(taskDir, { recursive: true, force: true });
});

test('System.Culture de-DE: the task, the shared core and azure.js speak German', async () => {
  const noInputs = await w.run('AmlPrivateLinkCheck', { taskDir, variables: { 'System.Culture': 'de-DE' } });
  assert.equal(noInputs.result, 'Failed');
  assert.match(noInputs.errors[0]!, /^Eingabe 'fqdns': nichts zu prüfen\./);

  const badNumber = await w.run('AmlPrivateLinkCheck', {
    taskDir,
    variables: { 'System.Culture': 'de-DE' },
    inputs: { fqdns: 'a.example.net', timeoutSeconds: 'abc' },
  });
  assert.match(badNumber.errors[0]!, /^Eingabe 'timeoutSeconds' muss eine ganze Zahl zwischen 1 und 120 sein, ist aber 'abc'\./);

  const scan = await w.run('AmlPrivateLinkCheck', {
    taskDir,
    connection: 'secret',
    variables: { 'System.Culture': 'de-DE' },
    inputs: { ...workspaceInputs(w.seed), dnsServers: w.dns.address, tcpCheck: 'false' },
  });
  assert.equal(scan.result, 'Succeeded', scan.errors.join('\n'));
  assert.match(scan.stdout, /8 Namen aus 1 Arbeitsbereich-Endpunkten und 3 Abhängigkeiten ermittelt\./);
  // Keys without a translation stay English.
  assert.match(scan.stdout, /All 8 names resolve to their private endpoints\./);
});

test('a culture without a translation, and the default, print English', async () => {
  for (const variables of [{ 'System.Culture': 'fr-FR' }, {}] as Array<Record<string, string>>) {
    const r = await w.run('AmlPrivateLinkCheck', { taskDir, variables });
    assert.match(r.errors[0]!, /^Input 'fqdns': nothing to check\./, JSON.stringify(variables));
  }
});
