/**
 * Runs a built task exactly as the agent does: a `node` child process with INPUT_*,
 * ENDPOINT_* and variables in the environment, then parses the ##vso[...] commands it prints.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const ROOT = path.resolve(__dirname, '..');
export const DIST = path.join(ROOT, 'dist', 'tasks');

export interface Endpoint {
  url?: string;
  scheme?: string;
  parameters?: Record<string, string>;
  data?: Record<string, string>;
}

export interface RunOptions {
  inputs?: Record<string, string | undefined>;
  endpoints?: Record<string, Endpoint>;
  /** Pipeline variables by their dotted name, e.g. 'Build.SourceBranch'. */
  variables?: Record<string, string>;
  /** Secret variables: passed as SECRET_* the way the agent does. */
  secretVariables?: Record<string, string>;
  /** Extra process environment (e.g. NODE_EXTRA_CA_CERTS). */
  env?: Record<string, string>;
  /** Run the task from another folder (e.g. one unpacked from the vsix). */
  taskDir?: string;
  /** Send SIGINT after this many ms (the agent cancelling). */
  cancelAfterMs?: number;
  /** Send SIGINT when a line of output matches. */
  cancelOn?: RegExp;
  timeoutMs?: number;
  /** Wrap the command, e.g. ['unshare', '-m', ...] for a private mount namespace. */
  wrapper?: (command: string[]) => string[];
}

export interface Command {
  name: string;
  props: Record<string, string>;
  message: string;
}

export interface TaskRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  commands: Command[];
  result?: string;
  resultMessage?: string;
  errors: string[];
  warnings: string[];
  outputs: Record<string, string>;
  secrets: string[];
  summaries: Array<{ path: string; content: string }>;
  progress: Array<{ value: number; text: string }>;
  /** Plain log lines (no ##vso commands). */
  log: string[];
  ms: number;
  tempDir: string;
}

/** Variable name -> environment name, as the agent does: upper case, '.' and ' ' -> '_'. */
export function varEnv(name: string): string {
  return name.replace(/[. ]/g, '_').toUpperCase();
}

/** As the agent reads command data; task-lib 5 writes '%' as '%AZP25'. */
function unescapeData(s: string): string {
  return s
    .replace(/%0D/g, '\r')
    .replace(/%0A/g, '\n')
    .replace(/%5D/g, ']')
    .replace(/%3B/g, ';')
    .replace(/%25/g, '%')
    .replace(/%AZP25/g, '%');
}

export function parseCommands(stdout: string): Command[] {
  const out: Command[] = [];
  for (const line of stdout.split(/\r?\n/)) {
    const m = /##vso\[([\w.]+)([^\]]*)\](.*)$/.exec(line);
    if (!m) continue;
    const props: Record<string, string> = {};
    for (const kv of m[2]!.trim().split(';')) {
      const i = kv.indexOf('=');
      if (i > 0) props[kv.slice(0, i).trim()] = unescapeData(kv.slice(i + 1));
    }
    out.push({ name: m[1]!, props, message: unescapeData(m[3]!) });
  }
  return out;
}

/** `filePathInputs`: names of the task's filePath inputs (runTask reads them from task.json). */
export function taskEnv(opts: RunOptions, tempDir: string, filePathInputs: string[] = []): NodeJS.ProcessEnv {
  // Start from a clean environment: only what an agent would pass plus PATH/HOME.
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, LANG: 'C.UTF-8' };
  const vars: Record<string, string> = {
    'Agent.TempDirectory': tempDir,
    'Agent.WorkFolder': tempDir,
    'Agent.Version': '4.248.0',
    'Agent.OS': 'Linux',
    'System.Culture': 'en-US',
    'System.HostType': 'build',
    'Build.SourcesDirectory': ROOT,
    'System.DefaultWorkingDirectory': ROOT,
    ...opts.variables,
  };
  const names: string[] = [];
  for (const [k, v] of Object.entries(vars)) {
    env[varEnv(k)] = v;
    names.push(k);
  }
  env.VSTS_PUBLIC_VARIABLES = JSON.stringify(names);
  const secretNames: string[] = [];
  for (const [k, v] of Object.entries(opts.secretVariables ?? {})) {
    env[`SECRET_${varEnv(k)}`] = v;
    secretNames.push(k);
  }
  env.VSTS_SECRET_VARIABLES = JSON.stringify(secretNames);
  for (const [k, v] of Object.entries(opts.inputs ?? {})) if (v !== undefined) env[`INPUT_${k.replace(/ /g, '_').toUpperCase()}`] = v;
  // As the agent does: an empty filePath input arrives as the sources folder.
  for (const input of filePathInputs) {
    const key = `INPUT_${input.toUpperCase()}`;
    if (!env[key]) env[key] = vars['Build.SourcesDirectory'] ?? vars['System.DefaultWorkingDirectory'] ?? ROOT;
  }
  for (const [id, ep] of Object.entries(opts.endpoints ?? {})) {
    const key = id; // the agent keys endpoints by id as given (a GUID, or SYSTEMVSSCONNECTION)
    if (ep.url !== undefined) env[`ENDPOINT_URL_${key}`] = ep.url;
    env[`ENDPOINT_AUTH_${key}`] = JSON.stringify({ parameters: ep.parameters ?? {}, scheme: ep.scheme ?? '' });
    if (ep.scheme) env[`ENDPOINT_AUTH_SCHEME_${key}`] = ep.scheme;
    for (const [p, v] of Object.entries(ep.parameters ?? {})) env[`ENDPOINT_AUTH_PARAMETER_${key}_${p.toUpperCase()}`] = v;
    for (const [d, v] of Object.entries(ep.data ?? {})) env[`ENDPOINT_DATA_${key}_${d.toUpperCase()}`] = v;
  }
  Object.assign(env, opts.env);
  return env;
}

export async function runTask(task: string, opts: RunOptions = {}): Promise<TaskRun> {
  const tempDir = fs.mkdtempSync(path.join(os.tmpdir(), `run-${task}-`));
  const dir = opts.taskDir ?? path.join(DIST, task);
  const taskJson = JSON.parse(fs.readFileSync(path.join(dir, 'task.json'), 'utf8')) as {
    execution: { Node20_1: { target: string } };
    inputs?: Array<{ name: string; type: string }>;
  };
  const target = taskJson.execution.Node20_1.target;
  const filePathInputs = (taskJson.inputs ?? []).filter((i) => i.type === 'filePath').map((i) => i.name);
  const base = [process.execPath, path.join(dir, target)];
  const cmd = opts.wrapper ? opts.wrapper(base) : base;
  const started = Date.now();
  const child = spawn(cmd[0]!, cmd.slice(1), {
    env: taskEnv(opts, tempDir, filePathInputs),
    cwd: tempDir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let cancelled = false;
  const cancel = () => {
    if (!cancelled) {
      cancelled = true;
      child.kill('SIGINT');
    }
  };
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    if (opts.cancelOn && opts.cancelOn.test(stdout)) cancel();
  });
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const cancelTimer = opts.cancelAfterMs !== undefined ? setTimeout(cancel, opts.cancelAfterMs) : undefined;
  const killTimer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    child.on('close', (c, s) => resolve([c, s])),
  );
  clearTimeout(cancelTimer);
  clearTimeout(killTimer);

  const commands = parseCommands(stdout);
  const run: TaskRun = {
    code,
    signal,
    stdout,
    stderr,
    commands,
    errors: [],
    warnings: [],
    outputs: {},
    secrets: [],
    summaries: [],
    progress: [],
    log: stdout.split(/\r?\n/).filter((l) => l && !l.includes('##vso[')),
    ms: Date.now() - started,
    tempDir,
  };
  for (const c of commands) {
    switch (c.name) {
      case 'task.complete':
        run.result = c.props.result;
        run.resultMessage = c.message;
        break;
      case 'task.issue':
        (c.props.type === 'error' ? run.errors : run.warnings).push(c.message);
        break;
      case 'task.setvariable':
        if (c.props.isOutput === 'true' && c.props.variable) run.outputs[c.props.variable] = c.message;
        break;
      case 'task.setsecret':
        run.secrets.push(c.message);
        break;
      case 'task.uploadsummary':
        run.summaries.push({ path: c.message, content: fs.existsSync(c.message) ? fs.readFileSync(c.message, 'utf8') : '' });
        break;
      case 'task.setprogress':
        run.progress.push({ value: Number(c.props.value), text: c.message });
        break;
    }
  }
  // The agent's rule: without ##vso[task.complete], the exit code decides.
  run.result ??= code === 0 ? 'Succeeded' : 'Failed';
  return run;
}

/** Everything a run left behind that a user or log could see. */
export function visibleText(run: TaskRun): string {
  const files: string[] = [];
  for (const f of fs.readdirSync(run.tempDir)) {
    const p = path.join(run.tempDir, f);
    if (fs.statSync(p).isFile()) files.push(fs.readFileSync(p, 'utf8'));
  }
  return [run.stdout, run.stderr, ...run.summaries.map((s) => s.content), ...files].join('\n');
}

/**
 * Secrets must never appear in output except inside ##vso[task.setsecret] (which is how the
 * agent learns to mask them; the agent strips those lines from the log).
 */
export function leakedSecrets(run: TaskRun, secrets: Iterable<string>): string[] {
  const text = visibleText(run)
    .split(/\r?\n/)
    .filter((l) => !l.includes('##vso[task.setsecret]'))
    .join('\n');
  const leaks: string[] = [];
  for (const s of secrets) {
    if (!s || s.length < 6) continue;
    // Multi-line secrets (PEM) are checked line by line.
    const parts = s.includes('\n')
      ? s
          .split(/\r?\n/)
          .map((l) => l.trim())
          .filter((l) => l.length >= 16 && !l.startsWith('-----'))
      : [s];
    for (const p of parts) if (text.includes(p)) leaks.push(p.slice(0, 12) + '…');
  }
  return leaks;
}
