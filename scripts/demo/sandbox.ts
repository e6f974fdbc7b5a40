/**
 * The rehearsal agent's private network. The templates run AmlPrivateLinkCheck@1 as an agent in
 * the VNet would: with the agent's own resolver (no dnsServers input) and a TCP 443 check of each
 * private endpoint. To rehearse exactly that, the demo re-runs itself in new mount and network
 * namespaces (root and `unshare` needed; the host's network and files are not touched):
 *  - lo is up and carries the private endpoint IPs (10.10.x.y) and 168.63.129.16, the Azure DNS
 *    address the VNet's private DNS zones answer on;
 *  - /etc/resolv.conf is bind-mounted to "nameserver 168.63.129.16", where the emulator's DNS
 *    server answers the privatelink CNAMEs and A records;
 *  - a listener on port 443 answers for every private endpoint IP.
 * Without root or unshare the rehearsal runs in the host's network instead and says which inputs
 * it had to point elsewhere (dnsServers at the emulator's DNS server, tcpCheck off).
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

export const SANDBOX_ENV = 'AML_DEMO_SANDBOX';
/** Azure's virtual DNS address: what an agent in the VNet (or peered to it) asks. */
export const AZURE_DNS = '168.63.129.16';

export function inSandbox(): boolean {
  return process.env[SANDBOX_ENV] === '1';
}

/** Whether the private network can be made here; the reason when not. */
export function sandboxAvailable(): { ok: true } | { ok: false; why: string } {
  if (process.platform !== 'linux') return { ok: false, why: 'not Linux' };
  if (process.getuid?.() !== 0) return { ok: false, why: 'not root (private mount and network namespaces need root)' };
  for (const [cmd, args] of [
    ['unshare', ['-m', '-n', 'true']],
    ['ip', ['-V']],
    ['mount', ['--version']],
  ] as const) {
    const r = spawnSync(cmd, args, { stdio: 'ignore' });
    if (r.error || r.status !== 0) return { ok: false, why: `'${cmd} ${args.join(' ')}' is not available or not permitted here` };
  }
  return { ok: true };
}

/** Runs this same command again inside new mount and network namespaces; resolves to its exit code. */
export function rerunInSandbox(): Promise<number> {
  const args = ['-m', '-n', '--', process.execPath, ...process.execArgv, process.argv[1]!, ...process.argv.slice(2)];
  const child = spawn('unshare', args, { stdio: 'inherit', env: { ...process.env, [SANDBOX_ENV]: '1' } });
  const forward = (sig: NodeJS.Signals) => () => child.kill(sig);
  const onInt = forward('SIGINT');
  const onTerm = forward('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      resolve(code ?? (signal ? 128 + (os.constants.signals[signal] ?? 0) : 1));
    });
  });
}

function run(cmd: string, args: string[], input?: string): void {
  const r = spawnSync(cmd, args, { input, encoding: 'utf8' });
  if (r.error || r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.error?.message ?? r.stderr.trim()}`);
}

export interface SandboxNetwork {
  /** TCP 443 listener for the private endpoint IPs. */
  close(): Promise<void>;
}

/**
 * Inside the namespaces: loopback up with the endpoint IPs and the DNS address, resolv.conf
 * pointing at it. Call before starting the DNS server on AZURE_DNS:53.
 */
/** Addresses already on lo, and whether resolv.conf is mounted (several rehearsals in one sandbox). */
const configured = new Set<string>();

export async function setupSandboxNetwork(ips: string[]): Promise<SandboxNetwork> {
  if (!inSandbox()) throw new Error('setupSandboxNetwork outside the sandbox would change the host network');
  const first = configured.size === 0;
  const add = [AZURE_DNS, ...ips].filter((ip, i, all) => all.indexOf(ip) === i && !configured.has(ip));
  const batch = [...(first ? ['link set lo up'] : []), ...add.map((ip) => `addr add ${ip}/32 dev lo`)];
  if (batch.length) run('ip', ['-batch', '-'], `${batch.join('\n')}\n`);
  for (const ip of add) configured.add(ip);
  if (first) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aml-demo-net-'));
    const resolv = path.join(dir, 'resolv.conf');
    fs.writeFileSync(
      resolv,
      `# rehearsal agent in the VNet: Azure DNS, which answers the linked private DNS zones\nnameserver ${AZURE_DNS}\noptions timeout:2 attempts:2\n`,
    );
    if (!fs.existsSync('/etc/resolv.conf'))
      throw new Error('/etc/resolv.conf does not exist: cannot point the agent resolver at the VNet DNS');
    run('mount', ['--bind', resolv, '/etc/resolv.conf']);
    // The mount keeps the file's contents; the temporary file itself can go.
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const server = net.createServer((s) => s.end());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(443, '0.0.0.0', () => resolve());
  });
  return { close: () => new Promise<void>((r) => server.close(() => r())) };
}
