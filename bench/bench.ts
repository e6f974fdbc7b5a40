/**
 * `npm run bench`: ratios measured side by side in one run, so a noisy shared machine moves
 * both sides together. Each case prints its measurement, its baseline and the ratio.
 * Cases: cold start (bundled task vs bare node), DNS check (200 names, 10 blackholed, vs one
 * timeout). Run `npm run build` first (npm run bench does).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { resolveAll } from '../tasks/AmlPrivateLinkCheck/resolve';
import { DnsServer } from '../test/emulator/dns-server';

const ROOT = path.resolve(__dirname, '..');

interface Row {
  name: string;
  measured: string;
  baseline: string;
  ratio: number;
  target?: string;
  pass?: boolean;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

function timeRun(args: string[], env: NodeJS.ProcessEnv): number {
  const t = process.hrtime.bigint();
  spawnSync(process.execPath, args, { env, stdio: 'ignore' });
  return Number(process.hrtime.bigint() - t) / 1e6;
}

/** Bundled task failing on a missing input vs `node -e 0`, interleaved runs. */
function coldStart(): Row {
  const temp = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-'));
  const env = { PATH: process.env.PATH, AGENT_TEMPDIRECTORY: temp };
  const task = path.join(ROOT, 'dist', 'tasks', 'AmlPipelineJob', 'index.js');
  const bare: number[] = [];
  const bundled: number[] = [];
  for (let i = 0; i < 3; i++) timeRun([task], env); // warm the page cache
  for (let i = 0; i < 21; i++) {
    bare.push(timeRun(['-e', '0'], env));
    bundled.push(timeRun([task], env));
  }
  const b = median(bare);
  const m = median(bundled);
  return { name: 'cold start: AmlPipelineJob failing on a missing input vs node -e 0 (median of 21)', measured: `${m.toFixed(0)} ms`, baseline: `${b.toFixed(0)} ms`, ratio: m / b, target: '< 2.5', pass: m / b < 2.5 };
}

/** 200 names, 10 never answered, 2 s timeout each, vs one lookup's time-out. */
async function dnsCheck(): Promise<Row[]> {
  const dns = await new DnsServer().start();
  const names: string[] = [];
  for (let i = 0; i < 200; i++) {
    const n = `n${i}.bench.example.net`;
    names.push(n);
    if (i % 20 === 0) dns.blackholed.add(n);
    else dns.set(n, { a: [`10.0.${Math.floor(i / 250)}.${i % 250}`] });
  }
  const opts = { servers: [dns.address], timeoutMs: 2000, hosts: new Map<string, string[]>() };
  let t = Date.now();
  await resolveAll(['n1.bench.example.net'], opts);
  const single = Date.now() - t;
  t = Date.now();
  const rs = await resolveAll(names, opts);
  const all = Date.now() - t;
  await dns.stop();
  const timedOut = rs.filter((r) => r.error === 'TIMEOUT').length;
  return [
    { name: `DNS: 200 names (${timedOut} blackholed, 2 s timeout) vs one timeout (2000 ms)`, measured: `${all} ms`, baseline: '2000 ms', ratio: all / 2000, target: '< 1.5', pass: all / 2000 < 1.5 },
    { name: 'DNS: 200 names vs a single answered lookup', measured: `${all} ms`, baseline: `${single} ms`, ratio: all / Math.max(1, single) },
  ];
}

async function main(): Promise<void> {
  const rows: Row[] = [coldStart(), ...(await dnsCheck())];
  const w = Math.max(...rows.map((r) => r.name.length));
  console.log(`${'case'.padEnd(w)}  ${'measured'.padStart(10)}  ${'baseline'.padStart(10)}  ${'ratio'.padStart(7)}  target`);
  for (const r of rows) {
    console.log(`${r.name.padEnd(w)}  ${r.measured.padStart(10)}  ${r.baseline.padStart(10)}  ${r.ratio.toFixed(2).padStart(7)}  ${r.target ? `${r.target} ${r.pass ? 'met' : 'MISSED'}` : ''}`);
  }
}

void main();
