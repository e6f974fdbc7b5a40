// Starts the emulator by hand with the seeded demo state and prints what a user needs to point
// a task at it. Usage: npm run emulator -- [--port 8443] [--host 127.0.0.1] [--token-lifetime 3600] [--oidc-lifetime 600] [--json]
// Stays up until Ctrl-C. Env files (one per service connection) can be sourced in a shell:
//   set -a; . /tmp/aml-emulator-8443-wif.env; set +a; node dist/tasks/AmlPipelineJob/index.js
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { taskEnv } from '../harness';
import { type SeedConnectionKind, seedConnection, seedJob } from './agentenv';
import { startEmulator } from './index';

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function shellQuote(v: string): string {
  return `'${v.replace(/'/g, `'\\''`)}'`;
}

function short(v: string, max = 96): string {
  const oneLine = v.replace(/\r?\n/g, '\\n');
  return oneLine.length > max ? `${oneLine.slice(0, max - 1)}…` : oneLine;
}

async function main(): Promise<void> {
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
  const jobToken = emu.ado.issueJobToken({ org: seed.ado.org, project: seed.ado.project });
  const job = seedJob(seed, emu.ado, jobToken, emu.caFile);
  const kinds: SeedConnectionKind[] = ['wif', 'secret', 'certificate', 'managedIdentity'];
  const listenPort = new URL(emu.url).port;
  const endpoints = kinds.map((kind) => {
    const ep = seedConnection(seed, kind);
    const file = join(tmpdir(), `aml-emulator-${listenPort}-${kind}.env`);
    // The same mapping the test harness uses, minus the harness's own PATH/HOME/temp folders.
    const env = taskEnv({ variables: job.variables, endpoints: { ...job.endpoints, [ep.id]: ep.endpoint }, env: { ...job.env, AZURE_POD_IDENTITY_AUTHORITY_HOST: emu.url } }, tmpdir());
    const all: Record<string, string> = {};
    for (const [k, v] of Object.entries(env)) if (v !== undefined && !['PATH', 'HOME', 'LANG'].includes(k)) all[k] = v;
    writeFileSync(file, `${Object.entries(all).map(([k, v]) => `${k}=${shellQuote(v)}`).join('\n')}\n`, { mode: 0o600 });
    return { kind, ...ep, env: all, file };
  });

  if (process.argv.includes('--json')) {
    process.stdout.write(`${JSON.stringify({ url: emu.url, caFile: emu.caFile, seed, jobEnv: job, endpoints }, null, 2)}\n`);
  } else {
    const lines = [
      `Azure + Azure DevOps emulator listening on ${emu.url}`,
      '',
      `  CA certificate          ${emu.caFile}`,
      `  Entra authority host    ${seed.authorityHost}  (tenant ${seed.tenantId})`,
      `  ARM URL                 ${seed.armUrl}  (subscription ${seed.subscriptionId})`,
      `  Workspace               ${seed.workspace.id}`,
      `  Azure DevOps            ${seed.ado.collectionUri}  (project ${seed.ado.project}, repo ${seed.ado.repository.name})`,
      `  IMDS                    AZURE_POD_IDENTITY_AUTHORITY_HOST=${emu.url}`,
      `  Control API             ${emu.url}/_emulator/state | /requests | /faults | /expire-tokens | /clock/advance | /job-token`,
      '',
      'Job environment (a run of contoso/mlops on refs/heads/main):',
      ...Object.entries(job.variables).map(([k, v]) => `  ${k}=${short(v)}`),
      '',
      'Service connections (AzureRM):',
    ];
    for (const ep of endpoints) {
      lines.push(`  ${ep.name}  id=${ep.id}  scheme=${ep.scheme}`);
      lines.push(`    env file: ${ep.file}`);
      for (const [k, v] of Object.entries(ep.env)) if (k.startsWith(`ENDPOINT_AUTH_PARAMETER_${ep.id}`)) lines.push(`    ${k}=${short(v)}`);
    }
    lines.push('', 'Secrets above are test values generated for this run. Ctrl-C to stop.');
    process.stdout.write(`${lines.join('\n')}\n`);
  }

  const stop = (): void => {
    // The env files hold this run's test secrets; remove them with the emulator.
    for (const ep of endpoints) rmSync(ep.file, { force: true });
    void emu.close().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`emulator failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
