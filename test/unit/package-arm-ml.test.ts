/**
 * scripts/arm-ml-bundle.mjs ships only the operation groups and mappers of
 * @azure/arm-machinelearning the tasks call. Proof that nothing the tasks read is lost: the same
 * calls, answered with Azure's reference examples, give the same objects from a bundle built with
 * the plugin as from one built without it; and a group left out says so when it is used.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import * as esbuild from 'esbuild';
import { ROOT } from '../../testkit/harness';

const EXAMPLES = path.join(
  ROOT,
  'testkit/reference/reference/machinelearningservices/resource-manager/Microsoft.MachineLearningServices/stable',
);
const example = (rel: string): unknown =>
  (JSON.parse(fs.readFileSync(path.join(EXAMPLES, rel), 'utf8')) as { responses: Record<string, { body?: unknown }> }).responses['200']!
    .body;

/** The calls the tasks make through the SDK, each answered 200 with `body` by a fake HTTP client. */
const ENTRY = `
import { AzureMachineLearningWorkspaces } from '@azure/arm-machinelearning';
import { createHttpHeaders } from '@azure/core-rest-pipeline';
const client = (body) => new AzureMachineLearningWorkspaces({ getToken: async () => ({ token: 't', expiresOnTimestamp: Date.now() + 3600000 }) }, 'sub', {
  endpoint: 'https://arm.example',
  httpClient: { sendRequest: async (request) => ({ request, status: 200, headers: createHttpHeaders({ 'content-type': 'application/json' }), bodyAsText: JSON.stringify(body) }) },
});
export const calls = {
  workspace: (body) => client(body).workspaces.get('rg', 'ws'),
  diagnose: (body) => client(body).workspaces.beginDiagnoseAndWait('rg', 'ws', { parameters: { value: {} } }),
  job: (body) => client(body).jobs.get('rg', 'ws', 'job'),
  cancel: (body) => client(body).jobs.beginCancelAndWait('rg', 'ws', 'job'),
  compute: (body) => client(body).computeOperations.get('rg', 'ws', 'cpu'),
};
`;

type Call = (body: unknown) => Promise<unknown>;
type Calls = Record<'workspace' | 'diagnose' | 'job' | 'cancel' | 'compute', Call>;

let dir: string;
let full: Calls;
let pruned: Calls;

async function bundle(name: string, plugins: esbuild.Plugin[]): Promise<Calls> {
  const outfile = path.join(dir, `${name}.cjs`);
  // The options of scripts/build.mjs that decide which files of the package are read.
  await esbuild.build({
    stdin: { contents: ENTRY, resolveDir: ROOT, loader: 'js' },
    absWorkingDir: ROOT,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    mainFields: ['module', 'main'],
    outfile,
    plugins,
    logLevel: 'silent',
  });
  return (await import(outfile)).calls as Calls;
}

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'arm-ml-bundle-'));
  const pluginFile = path.join(ROOT, 'scripts', 'arm-ml-bundle.mjs');
  const { armMlBundle } = (await import(pluginFile)) as { armMlBundle: (groups?: string[]) => esbuild.Plugin };
  full = await bundle('full', []);
  pruned = await bundle('pruned', [armMlBundle(['workspaces', 'jobs'])]);
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('the pruned SDK reads a workspace, its diagnosis and jobs exactly as the full SDK', async () => {
  const cases: Array<[keyof Calls, unknown]> = [
    ['workspace', example('2024-04-01/examples/Workspace/get.json')],
    ['diagnose', example('2024-10-01/examples/Workspace/diagnose.json')],
    ['job', example('2024-04-01/examples/Job/PipelineJob/get.json')],
    ['job', example('2024-04-01/examples/Job/CommandJob/get.json')],
    ['cancel', undefined],
  ];
  for (const [call, body] of cases) {
    const expected = await full[call](body);
    assert.deepEqual(await pruned[call](body), expected, call);
    if (call !== 'cancel') assert.ok(JSON.stringify(expected).length > 200, `${call}: the example deserialised to something`);
  }
});

test('an operation group the bundle leaves out fails loudly, naming where to add it', async () => {
  await assert.rejects(
    async () => pruned.compute({}),
    /@azure\/arm-machinelearning's computeOperations\.get is not bundled: add 'computeOperations' to this task's ML_OPERATIONS in scripts\/build\.mjs/,
  );
  assert.ok(await full.compute({ properties: { computeType: 'AmlCompute' } }));
});
