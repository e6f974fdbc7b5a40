/**
 * A seeded world for agent-level tests: the emulator (private workspace with endpoints for
 * every dependency), a DNS server that answers the private names correctly, a CI job on main,
 * and `run` that executes a built task with all of it, the way the agent would.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { SubmissionPlan } from '../tasks/AmlPipelineJob/plan';
import { DnsServer } from './emulator/dns-server';
import {
  seedConnection,
  seedJob,
  startEmulator,
  type Emulator,
  type SeedConnectionKind,
  type SeedResult,
  type StartEmulatorOptions,
} from './emulator/index';
import type { PrivateName } from './emulator/network';
import { leakedSecrets, runTask, type Endpoint, type RunOptions, type TaskRun } from './harness';

export interface WorldRunOptions extends RunOptions {
  /** Which seeded service connection to pass as `azureSubscription` (default: none). */
  connection?: SeedConnectionKind | 'managedIdentityUser';
  /**
   * A repository checkout: sets Build.SourcesDirectory and System.DefaultWorkingDirectory (`variables`
   * can still override them). Default: an empty checkout. Like the agent's checkout, the folder's
   * git HEAD is Build.SourceVersion (a detached `.git/HEAD` is written when it has no `.git`),
   * unless `checkout` is false (`checkout: none`).
   */
  sources?: string;
  checkout?: boolean;
}

export interface World {
  emu: Emulator;
  seed: SeedResult;
  dns: DnsServer;
  names: PrivateName[];
  run(task: string, opts?: WorldRunOptions): Promise<TaskRun>;
  /** Every run so far, for the secret leak scan. */
  runs: TaskRun[];
  close(): Promise<void>;
}

/** Point every private name at its endpoint IP, through its privatelink CNAME, like Azure DNS. */
export function answerPrivately(dns: DnsServer, names: PrivateName[]): void {
  for (const n of names) {
    dns.set(n.fqdn, { cname: n.privatelink });
    dns.set(n.privatelink, { a: [n.ip] });
  }
}

/**
 * The classic broken setup on top of a correct zone: the blob name's privatelink CNAME goes on
 * to a public front end (zone not linked), the workspace API name has a stale A record (endpoint
 * re-created) and the Key Vault name has no record. Returns those three names.
 */
export function breakPrivateDns(dns: DnsServer, names: PrivateName[]): { api: PrivateName; blob: PrivateName; kv: PrivateName } {
  const [api, blob, kv] = [names[0]!, names.find((n) => n.fqdn.includes('.blob.'))!, names.find((n) => n.fqdn.includes('.vault.'))!];
  answerPrivately(dns, names);
  dns.set(blob.privatelink, { cname: 'blob.bl5prdstr09a.store.core.windows.net' });
  dns.set('blob.bl5prdstr09a.store.core.windows.net', { a: ['20.60.153.1'] });
  dns.set(api.privatelink, { a: ['10.10.1.250'] });
  dns.records.delete(kv.privatelink);
  return { api, blob, kv };
}

export async function startWorld(opts: StartEmulatorOptions = {}): Promise<World> {
  const emu = await startEmulator(opts);
  const seed = emu.seedDefault();
  const names = emu.arm.addPrivateNetwork(seed.workspace.id);
  const dns = await new DnsServer().start();
  answerPrivately(dns, names);
  const jobToken = emu.ado.issueJobToken({ project: seed.ado.project });
  const runs: TaskRun[] = [];
  const world: World = {
    emu,
    seed,
    dns,
    names,
    runs,
    async run(task, o = {}) {
      const job = seedJob(seed, emu.ado, jobToken, emu.caFile);
      const endpoints: Record<string, Endpoint> = { ...job.endpoints, ...o.endpoints };
      const inputs: Record<string, string | undefined> = { ...o.inputs };
      const env: Record<string, string> = { ...job.env, ...o.env };
      if (o.connection) {
        const sc =
          o.connection === 'managedIdentityUser'
            ? seedConnection(seed, 'managedIdentity', { userAssignedMi: true })
            : seedConnection(seed, o.connection);
        endpoints[sc.id] = sc.endpoint;
        inputs.azureSubscription ??= sc.id;
        // What a VM with a managed identity gives every process: an IMDS endpoint.
        if (sc.scheme === 'ManagedServiceIdentity') env.AZURE_POD_IDENTITY_AUTHORITY_HOST = emu.url;
      }
      // The seed has one pipeline identity per auth scheme, all Contributor; production has one. The
      // access audit is told about the others unless a test says otherwise.
      if (task === 'AmlPrivateLinkCheck' && o.connection && !('allowedPrincipals' in inputs))
        inputs.allowedPrincipals = seedPipelinePrincipals(seed).join('\n');
      const variables = {
        ...job.variables,
        ...sourcesVariables(o.sources ?? fs.mkdtempSync(path.join(os.tmpdir(), 'sources-'))),
        ...o.variables,
      };
      if (o.checkout !== false) checkOut(variables['Build.SourcesDirectory']!, variables['Build.SourceVersion'] ?? '');
      const r = await runTask(task, { ...o, inputs, endpoints, env, variables });
      runs.push(r);
      return r;
    },
    async close() {
      await dns.stop();
      await emu.close();
    },
  };
  return world;
}

function sourcesVariables(dir: string): Record<string, string> {
  return { 'Build.SourcesDirectory': dir, 'System.DefaultWorkingDirectory': dir };
}

/** The agent checks out Build.SourceVersion detached: a folder without `.git` gets that HEAD. */
function checkOut(dir: string, sourceVersion: string): void {
  if (!/^[0-9a-f]{40}$/i.test(sourceVersion) || !fs.existsSync(dir) || fs.existsSync(path.join(dir, '.git'))) return;
  fs.mkdirSync(path.join(dir, '.git'));
  fs.writeFileSync(path.join(dir, '.git', 'HEAD'), `${sourceVersion}\n`);
}

/** Object ids of the seeded pipeline identities (one per auth scheme). */
export function seedPipelinePrincipals(seed: SeedResult): string[] {
  const sp = seed.servicePrincipals;
  return [sp.federated, sp.secret, sp.certificate, seed.managedIdentities.system, seed.managedIdentities.user].map((p) => p.objectId);
}

/** Workspace inputs of the seeded workspace. */
export function workspaceInputs(seed: SeedResult): Record<string, string> {
  return { resourceGroupName: seed.resourceGroup, workspaceName: seed.workspace.name };
}

/** A compact description of a run for assertion messages. */
export function describe(r: TaskRun): string {
  return `result=${r.result} code=${r.code}\nerrors=${JSON.stringify(r.errors)}\n--- log ---\n${r.log.slice(-40).join('\n')}\n--- stderr ---\n${r.stderr.slice(-2000)}`;
}

/** The leak scan: no secret the emulator handed out appears in the visible output of any run of `w`. */
export function assertNoLeaks(w: World): void {
  for (const r of w.runs) assert.deepEqual(leakedSecrets(r, w.emu.secrets()), [], describe(r));
}

/**
 * What a user's workspace has before they submit a corpus example (test/fixtures/corpus): the
 * computes and registered assets its translation references, added to the seeded workspace.
 */
export function seedCorpusWorkspace(w: World, plan: SubmissionPlan): void {
  const ws = w.seed.workspace.id;
  // A registered component has the outputs later steps bind (${{parent.jobs.<step>.outputs.<port>}}).
  const bound = [...fs.readFileSync(plan.file, 'utf8').matchAll(/\.outputs\.([A-Za-z_]\w*)\s*\}\}/g)].map((m) => m[1]!);
  const outputs = Object.fromEntries(bound.map((o) => [o, { type: 'uri_folder' }]));
  for (const r of plan.refs) {
    if (r.kind === 'compute' && r.name !== 'serverless' && !w.emu.arm.resources.get(`${ws}/computes/${r.name}`))
      w.emu.aml.addCompute(ws, r.name);
    if (r.kind !== 'asset') continue;
    const version = r.ref.version ?? '1';
    if (w.emu.arm.resources.get(`${ws}/${r.assetType}/${r.ref.name}/versions/${version}`)) continue;
    if (r.assetType === 'data') w.emu.aml.addData(ws, r.ref.name, version, `azureml://datastores/workspaceblobstore/paths/${r.ref.name}/`);
    if (r.assetType === 'environments')
      w.emu.aml.addEnvironment(ws, r.ref.name, version, { image: 'mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest' });
    if (r.assetType === 'components')
      w.emu.aml.addComponent(ws, r.ref.name, version, {
        type: 'command',
        command: 'echo',
        environment: 'azureml://registries/azureml/environments/sklearn-1.5/labels/latest',
        outputs,
      });
  }
}
