/**
 * `npm run pickers`: what the classic editor's pickers show, for the seeded emulator of
 * test/pickers.test.ts. Every dataSourceBinding of every task.json is evaluated the way Azure
 * DevOps does (testkit/emulator/datasource.ts), with the dependent inputs set to the seeded
 * workspace.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { evaluateBinding, seedPickerWorld, type DataSourceBinding } from '../testkit/emulator/datasource';
import { startEmulator } from '../testkit/emulator/index';

const root = path.resolve(__dirname, '..');
async function main(): Promise<void> {
  const emu = await startEmulator();
  try {
    const seed = emu.seedDefault();
    const { endpoint, fetch } = await seedPickerWorld(emu, seed);
    const inputs = { resourceGroupName: seed.resourceGroup, workspaceName: seed.workspace.name };
    for (const task of fs.readdirSync(path.join(root, 'tasks')).filter((t) => fs.existsSync(path.join(root, 'tasks', t, 'task.json')))) {
      const bindings: DataSourceBinding[] =
        JSON.parse(fs.readFileSync(path.join(root, 'tasks', task, 'task.json'), 'utf8')).dataSourceBindings ?? [];
      for (const b of bindings) {
        const r = await evaluateBinding(b, endpoint, inputs, fetch);
        const shown = r.values.map((v) => (v.Value === v.DisplayValue ? v.Value : `${v.Value} [${v.DisplayValue}]`)).join(', ');
        console.log(`${task}.${b.target} (${r.calls.length} call${r.calls.length === 1 ? '' : 's'}): ${shown}`);
      }
    }
  } finally {
    await emu.close();
  }
}

void main();
