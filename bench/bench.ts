/**
 * `npm run bench`: ratios measured side by side in one run, so a noisy shared machine moves
 * both sides together. Each case prints its measurement, its baseline and the ratio.
 * Cases: cold start (bundled task vs bare node), DNS check (200 names, 10 blackholed, vs one
 * timeout), job polling (ARM requests per simulated hour, terminal state to task exit), code
 * upload (2,000 files, first and unchanged second run). `npm run bench` builds first.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { resolveAll } from '../tasks/AmlPrivateLinkCheck/resolve';
import { waitForJob } from '../tasks/AmlPipelineJob/wait';
import { DnsServer } from '../test/emulator/dns-server';
import { copySample } from '../test/fixtures/pipeline/helpers';
import { startWorld, workspaceInputs } from '../test/world';

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

/** The task's wait loop over a simulated hour: one ARM GET of the job per poll. */
async function pollingHour(): Promise<Row> {
  let now = 0;
  let polls = 0;
  await waitForJob(
    { poll: async () => (polls++, { status: now >= 3_600_000 ? 'Completed' : 'Running', steps: [] }), now: () => now, sleep: async (ms) => void (now += ms), log: () => undefined, progress: () => undefined },
    { timeoutMs: 0, signal: new AbortController().signal },
  );
  return { name: 'polling: ARM requests (job GETs) per simulated hour of waiting', measured: `${polls}`, baseline: '150', ratio: polls / 150, target: '< 1 (150/h)', pass: polls < 150 };
}

/** The bundled task against the emulator: terminal-to-exit delay, and a 2,000-file upload twice. */
async function pipelineJob(): Promise<Row[]> {
  const w = await startWorld();
  try {
    w.emu.aml.addData(w.seed.workspace.id, 'taxi-test', '1', 'azureml://datastores/workspaceblobstore/paths/taxi/test/');
    const repo = copySample();
    for (let i = 0; i < 2000; i++) fs.writeFileSync(path.join(repo, 'src', `module_${i}.py`), `# generated module ${i}\nVALUE = ${i}\n`.repeat(8));
    const run = () =>
      w.run('AmlPipelineJob', { connection: 'wif', inputs: { ...workspaceInputs(w.seed), jobFile: 'pipeline.yml' }, variables: { 'Build.SourcesDirectory': repo } });
    w.emu.aml.scriptJobs({ startDelayMs: 50, stepDurationMs: 4000, phaseMs: 20 });
    let mark = w.emu.storage.mark();
    const t1 = Date.now();
    const first = await run();
    const firstBytes = w.emu.storage.bytesUploaded(mark);
    const firstWrites = w.emu.storage.writes(mark).length;
    const exit1 = t1 + first.ms;
    const terminal = w.emu.aml.terminalAt(first.outputs.jobName ?? '') ?? exit1;
    mark = w.emu.storage.mark();
    const second = await run();
    const secondBytes = w.emu.storage.bytesUploaded(mark);
    const secondWrites = w.emu.storage.writes(mark).length;
    if (first.result !== 'Succeeded' || second.result !== 'Succeeded') throw new Error(`pipeline bench run failed: ${first.errors.join(' ')} ${second.errors.join(' ')}`);
    const jobMs = terminal - t1;
    return [
      { name: 'polling: delay from the job ending to the task exiting (job of ~8 s)', measured: `${exit1 - terminal} ms`, baseline: `${jobMs} ms`, ratio: (exit1 - terminal) / jobMs },
      { name: 'upload: 2,000-file code folder, first run (bytes / blob writes)', measured: `${firstBytes} B / ${firstWrites}`, baseline: '-', ratio: 1 },
      { name: 'upload: unchanged second run (bytes / blob writes)', measured: `${secondBytes} B / ${secondWrites}`, baseline: `${firstBytes} B`, ratio: secondBytes / Math.max(1, firstBytes), target: '0 bytes', pass: secondBytes === 0 },
    ];
  } finally {
    await w.close();
  }
}

async function main(): Promise<void> {
  const rows: Row[] = [coldStart(), ...(await dnsCheck()), await pollingHour(), ...(await pipelineJob())];
  const w = Math.max(...rows.map((r) => r.name.length));
  console.log(`${'case'.padEnd(w)}  ${'measured'.padStart(10)}  ${'baseline'.padStart(10)}  ${'ratio'.padStart(7)}  target`);
  for (const r of rows) {
    console.log(`${r.name.padEnd(w)}  ${r.measured.padStart(10)}  ${r.baseline.padStart(10)}  ${r.ratio.toFixed(2).padStart(7)}  ${r.target ? `${r.target} ${r.pass ? 'met' : 'MISSED'}` : ''}`);
  }
}

void main();
