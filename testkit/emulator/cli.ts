// Starts the emulator by hand with the seeded demo state and prints what a user needs to point a
// task at it; `npm run task` (scripts/run-task.ts) then runs a built task against it.
// Usage: npm run emulator -- [--port 8443] [--host 127.0.0.1] [--token-lifetime 3600] [--oidc-lifetime 600] [--json] [--help]
// Stays up until Ctrl-C.
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { checkedOutCommit } from '../../tasks/common/git-head';
import { answerPrivately, seedPipelinePrincipals } from '../world';
import { type SeedConnectionKind, seedConnection, seedJob } from './agentenv';
import { DnsServer } from './dns-server';
import { startEmulator } from './index';
import { SEED_PEOPLE } from './seed';

const HELP = `Usage: npm run emulator -- [options]

Starts the local Azure + Azure DevOps emulator with the demo state (a private workspace, service
connections of every scheme, the contoso/mlops repository with a protected main) and stays up
until Ctrl-C. The repository's main branch is this checkout's HEAD, so a task run from here passes
the branch gate. Then run a built task against it in another shell:

  npm run task -- AmlPrivateLinkCheck --input resourceGroupName=rg-aml-prod --input workspaceName=mlw-prod

Options:
  --port <n>             port to listen on (default: a free one)
  --host <addr>          address to listen on (default 127.0.0.1)
  --token-lifetime <s>   lifetime of Entra access tokens (default 3600)
  --oidc-lifetime <s>    lifetime of pipeline OIDC tokens (default 600)
  --json                 print the URLs, the seed and the connections as JSON
  -h, --help             print this help

It writes ${join(tmpdir(), 'aml-emulator-<port>.json')} (URL, CA file, job and connections; test
secrets, removed on exit), which npm run task reads.`;

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function short(v: string, max = 96): string {
  const oneLine = v.replace(/\r?\n/g, '\\n');
  return oneLine.length > max ? `${oneLine.slice(0, max - 1)}…` : oneLine;
}

/** What npm run task needs to run a task against this emulator. */
export interface Handoff {
  url: string;
  caFile: string;
  job: ReturnType<typeof seedJob>;
  connections: Record<SeedConnectionKind, ReturnType<typeof seedConnection>>;
  /** The VNet's DNS server (ip:port): the workspace's private-link names resolve to their endpoints. */
  dnsServer: string;
  /** Object ids of the seeded pipeline identities, one per auth scheme (all Contributor). */
  pipelinePrincipals: string[];
}

export const handoffFile = (port: string): string => join(tmpdir(), `aml-emulator-${port}.json`);

async function main(): Promise<void> {
  if (process.argv.includes('--help') || process.argv.includes('-h')) {
    process.stdout.write(`${HELP}\n`);
    return;
  }
  const port = Number(argValue('--port') ?? '0');
  const host = argValue('--host') ?? '127.0.0.1';
  const tokenLifetime = argValue('--token-lifetime');
  const oidcLifetime = argValue('--oidc-lifetime');
  const emu = await startEmulator({
    host,
    port,
    tokenLifetimeSeconds: tokenLifetime ? Number(tokenLifetime) : undefined,
    oidcTokenLifetimeSeconds: oidcLifetime ? Number(oidcLifetime) : undefined,
  });
  const seed = emu.seedDefault();
  // main ends at this checkout's HEAD: the gate compares the checked-out commit with Build.SourceVersion.
  const head = checkedOutCommit(resolve(__dirname, '..', '..'));
  // ...the merge of a completed pull request that two others approved, as the gate requires.
  if (head) {
    emu.ado.addPullRequest({
      repositoryId: seed.ado.repository.id,
      author: SEED_PEOPLE.author,
      lastMergeCommit: head,
      reviewers: SEED_PEOPLE.reviewers.map((r) => ({ ...r, vote: 10 })),
    });
    seed.ado.repository.mainHead = head;
  }
  // The data asset the example pipeline (examples/mlops/pipeline.yml) reads.
  emu.aml.addData(seed.workspace.id, 'taxi-test', '1', 'azureml://datastores/workspaceblobstore/paths/taxi-test/');
  // Private endpoints for the workspace and its dependencies, and the VNet's DNS server that answers for them.
  const names = emu.arm.addPrivateNetwork(seed.workspace.id);
  const dns = await new DnsServer().start();
  answerPrivately(dns, names);
  const jobToken = emu.ado.issueJobToken({ org: seed.ado.org, project: seed.ado.project });
  const job = seedJob(seed, emu.ado, jobToken, emu.caFile);
  const kinds: SeedConnectionKind[] = ['wif', 'secret', 'certificate', 'managedIdentity'];
  const connections = Object.fromEntries(kinds.map((k) => [k, seedConnection(seed, k)])) as Handoff['connections'];
  const listenPort = new URL(emu.url).port;
  const file = handoffFile(listenPort);
  const handoff: Handoff = {
    url: emu.url,
    caFile: emu.caFile,
    job,
    connections,
    dnsServer: dns.address,
    pipelinePrincipals: seedPipelinePrincipals(seed),
  };
  writeFileSync(file, JSON.stringify(handoff, null, 2), { mode: 0o600 });

  if (process.argv.includes('--json')) {
    process.stdout.write(`${JSON.stringify({ url: emu.url, caFile: emu.caFile, handoffFile: file, seed, job, connections }, null, 2)}\n`);
  } else {
    const lines = [
      `Azure + Azure DevOps emulator listening on ${emu.url}`,
      '',
      `  CA certificate          ${emu.caFile}`,
      `  Entra authority host    ${seed.authorityHost}  (tenant ${seed.tenantId})`,
      `  ARM URL                 ${seed.armUrl}  (subscription ${seed.subscriptionId})`,
      `  Workspace               ${seed.workspace.id}`,
      `  Azure DevOps            ${seed.ado.collectionUri}  (project ${seed.ado.project}, repo ${seed.ado.repository.name}, main at ${seed.ado.repository.mainHead.slice(0, 12)})`,
      `  IMDS                    AZURE_POD_IDENTITY_AUTHORITY_HOST=${emu.url}`,
      `  VNet DNS server         ${dns.address}  (${names.length} private-link names of the workspace and its storage, vault, registry)`,
      `  Control API             ${emu.url}/_emulator/state | /requests | /faults | /expire-tokens | /clock/advance | /job-token`,
      '',
      'Job (a run of contoso/mlops on refs/heads/main):',
      ...Object.entries(job.variables).map(([k, v]) => `  ${k}=${short(v)}`),
      '',
      'Service connections (AzureRM), for --connection:',
      ...kinds.map((k) => `  ${k.padEnd(16)} ${connections[k].name}  id=${connections[k].id}  scheme=${connections[k].scheme}`),
      '',
      `Run a built task against it:  npm run task -- <Task> [--connection wif] --input name=value ...`,
      `(it reads ${file}; test secrets generated for this run, removed on exit). Ctrl-C to stop.`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  }

  const stop = (): void => {
    rmSync(file, { force: true });
    void Promise.all([emu.close(), dns.stop()]).then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`emulator failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
