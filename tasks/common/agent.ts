/**
 * The only module that talks to the agent (task-lib). Entry points get an AgentIo, call the
 * pure core with what it reads, and report results through it.
 *
 * It is also the one sink for output: every line, warning, progress text, output value, summary
 * and report passes through `safe` (secrets redacted, agent command prefixes neutralised), and
 * the task's own agent commands go only through task-lib's typed functions here, which escape
 * their data. Nothing else in tasks/ writes to stdout or stderr.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tl from 'azure-pipelines-task-lib/task';
import type { JobContext } from './devops';
import type { EndpointReader } from './endpoint';
import { translateAzureError, UserError } from './errors';
import { useLocalizer } from './loc';
import { confine, PathRefused, sourcesRootOf } from './files';
import { msg } from './messages';
import type { AgentProxy, ProxyResolver } from './proxy';
import { Secrets } from './secrets';
import { neutralize } from './sink';

export class AgentIo {
  readonly secrets = new Secrets((v) => tl.setSecret(v));
  private readonly abort = new AbortController();
  /** Aborted when the agent cancels the run (SIGINT, then SIGTERM). */
  readonly signal = this.abort.signal;

  constructor() {
    // Messages of the core follow System.Culture through task-lib's resource strings.
    useLocalizer((key, ...args) => tl.loc(key, ...args));
    const cancel = (sig: string) => {
      if (!this.abort.signal.aborted) {
        tl.warning(msg('RunCancelled', sig));
        this.abort.abort(new UserError(msg('RunWasCancelled', sig)));
      }
    };
    process.on('SIGINT', () => cancel('SIGINT'));
    process.on('SIGTERM', () => cancel('SIGTERM'));
  }

  /** A trimmed input, or undefined when empty. `fix` says what to set when it is required. */
  input(name: string, required: true, fix: string): string;
  input(name: string, required?: false): string | undefined;
  input(name: string, required = false, fix = ''): string | undefined {
    const v = tl.getInput(name, false)?.trim();
    if (!v) {
      if (required) throw new UserError(msg('InputRequired', name, fix), name);
      return undefined;
    }
    return v;
  }

  bool(name: string, fallback: boolean): boolean {
    const v = tl.getInput(name, false)?.trim().toLowerCase();
    if (!v) return fallback;
    if (v === 'true') return true;
    if (v === 'false') return false;
    throw new UserError(msg('InvalidInput', name, msg('NotABoolean', v)), name);
  }

  int(name: string, fallback: number, min: number, max: number): number {
    const v = tl.getInput(name, false)?.trim();
    if (!v) return fallback;
    if (!/^-?\d+$/.test(v) || Number(v) < min || Number(v) > max) {
      throw new UserError(msg('InvalidNumberInput', name, min, max, v), name);
    }
    return Number(v);
  }

  /** A decimal number within bounds, e.g. minutes where 0.5 means 30 seconds. */
  number(name: string, fallback: number, min: number, max: number): number {
    const v = tl.getInput(name, false)?.trim();
    if (!v) return fallback;
    if (!/^\d+(\.\d+)?$/.test(v) || Number(v) < min || Number(v) > max) {
      throw new UserError(msg('InvalidDecimalInput', name, min, max, v), name);
    }
    return Number(v);
  }

  /** Non-empty, trimmed lines; '#' starts a comment line. */
  lines(name: string): string[] {
    return (tl.getInput(name, false) ?? '')
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
  }

  /** The sources directory (Build.SourcesDirectory, else System.DefaultWorkingDirectory, else the working directory), absolute. */
  sourcesRoot(): string {
    return path.resolve(this.variable('Build.SourcesDirectory') ?? this.variable('System.DefaultWorkingDirectory') ?? process.cwd());
  }

  /**
   * A file input: resolved against the sources directory, confined to it with every symbolic
   * link followed (tasks/common/files.ts), and required to be a regular file. Nothing is read
   * here: the caller reads it after the branch gate.
   */
  file(name: string, required: true, fix: string): string;
  file(name: string, required?: false): string | undefined;
  file(name: string, required = false, fix = ''): string | undefined {
    const root = sourcesRootOf(this.sourcesRoot());
    // The agent fills an empty filePath input with the sources folder: that means "not given".
    const given = this.input(name);
    const raw = given && path.resolve(root.root, given) !== root.root ? given : undefined;
    if (!raw) {
      if (required) throw new UserError(msg('InputRequired', name, fix), name);
      return undefined;
    }
    let found: { abs: string; real: string };
    try {
      found = confine(root, root.root, raw);
    } catch (e) {
      if (!(e instanceof PathRefused)) throw e;
      const problem = {
        outside: () => msg('FileOutsideSources', name, raw, root.root),
        missing: () => msg('FileNotFound', name, raw),
        loop: () => msg('FileLinkLoop', name, raw),
        linksOutside: () => msg('FileLinksOutside', name, raw, e.real, root.root),
      }[e.kind];
      throw new UserError(problem(), name);
    }
    if (!fs.statSync(found.real).isFile()) throw new UserError(msg('FileIsNotAFile', name, raw), name);
    return found.abs;
  }

  variable(name: string): string | undefined {
    return tl.getVariable(name) || undefined;
  }

  /**
   * Endpoint auth parameters come from the ENDPOINT_AUTH_<id> JSON, not from
   * getEndpointAuthorizationParameter, which writes each value to the debug log before we
   * could mask it. Every value is registered as a secret on first read.
   */
  private readonly authCache = new Map<string, Record<string, string> | undefined>();
  private authParams(id: string): Record<string, string> | undefined {
    if (!this.authCache.has(id)) {
      let auth: { parameters?: Record<string, string> } | undefined;
      try {
        auth = tl.getEndpointAuthorization(id, true) as { parameters?: Record<string, string> } | undefined;
      } catch {
        // task-lib's own message would quote the raw (secret) JSON.
        throw new UserError(msg('MalformedConnectionAuthorization', id));
      }
      const params: Record<string, string> = {};
      for (const [k, v] of Object.entries(auth?.parameters ?? {})) {
        if (typeof v !== 'string') continue;
        params[k.toLowerCase()] = v;
        // Ids and names are not secret; everything else might be.
        if (!/^(serviceprincipalid|tenantid|authenticationtype|scope|workloadidentityfederation(issuer|subject))$/i.test(k))
          this.secrets.protect(v);
      }
      this.authCache.set(id, auth ? params : undefined);
    }
    return this.authCache.get(id);
  }

  readonly endpoints: EndpointReader = {
    url: (id) => tl.getEndpointUrl(id, true) || undefined,
    scheme: (id) => tl.getEndpointAuthorizationScheme(id, true) || undefined,
    auth: (id, key) => this.authParams(id)?.[key.toLowerCase()] || undefined,
    data: (id, key) => tl.getEndpointDataParameter(id, key, true) || undefined,
  };

  /** The agent's proxy for a URL (task-lib applies the bypass list and returns null for it). */
  readonly proxy: ProxyResolver = (url) => {
    const c = tl.getHttpProxyConfiguration(url);
    if (!c?.proxyUrl) return undefined;
    if (c.proxyPassword) this.secrets.protect(c.proxyPassword);
    const p: AgentProxy = { proxyUrl: c.proxyUrl };
    if (c.proxyUsername) p.proxyUsername = c.proxyUsername;
    if (c.proxyPassword) p.proxyPassword = c.proxyPassword;
    return p;
  };

  job(): JobContext {
    const token = this.endpoints.auth('SYSTEMVSSCONNECTION', 'AccessToken') ?? (tl.getVariable('System.AccessToken') || undefined);
    if (token) this.secrets.protect(token);
    return {
      collectionUri: tl.getVariable('System.CollectionUri') ?? tl.getVariable('System.TeamFoundationCollectionUri') ?? '',
      projectId: tl.getVariable('System.TeamProjectId') ?? '',
      hostType: tl.getVariable('System.HostType') ?? 'build',
      planId: tl.getVariable('System.PlanId') ?? '',
      jobId: tl.getVariable('System.JobId') ?? '',
      accessToken: token,
    };
  }

  /** Text on its way out: every secret the task knows redacted, every agent command prefix defused. */
  safe(text: string): string {
    return neutralize(this.secrets.redact(text));
  }

  /** Output variables are set with isOutput=true so later jobs and stages can read them. */
  output(name: string, value: string): void {
    tl.setVariable(name, this.safe(value), false, true);
  }

  info(line: string): void {
    console.log(this.safe(line));
  }
  warn(line: string): void {
    tl.warning(this.safe(line));
  }
  debug(line: string): void {
    tl.debug(this.safe(line));
  }

  /** Lines folded under a title in the log (##[group] ... ##[endgroup]); the title and lines are text like any other. */
  group(title: string, lines: string[]): void {
    console.log(`##[group]${this.safe(title)}`);
    for (const l of lines) console.log(this.safe(l));
    console.log('##[endgroup]');
  }

  /** End the step as "succeeded with issues": a warning in the log and an orange step. */
  succeededWithIssues(message: string): void {
    // setResult logs the message as a warning itself.
    tl.setResult(tl.TaskResult.SucceededWithIssues, this.safe(message));
    this.resultSet = true;
  }

  /** End the step as failed with `message` (runTask does this for a thrown error). */
  failed(message: string): void {
    tl.setResult(tl.TaskResult.Failed, this.safe(message));
    this.resultSet = true;
  }

  /** Set once a result other than plain success was reported. */
  resultSet = false;

  progress(percent: number, text: string): void {
    tl.setProgress(Math.max(0, Math.min(100, Math.round(percent))), this.safe(text));
  }

  /** Write a markdown summary to the agent's temp folder and attach it to the run. */
  summary(name: string, markdown: string): string {
    const file = this.writeTemp(`${name}-${process.pid}.md`, markdown);
    tl.uploadSummary(file);
    tl.debug(this.safe(msg('SummaryAttached', file)));
    return file;
  }

  /** Write a JSON report that outlives the step (Agent.TempDirectory) and return its path. */
  report(name: string, data: unknown): string {
    return this.writeTemp(`${name}-${process.pid}.json`, JSON.stringify(data, null, 2));
  }

  private writeTemp(name: string, text: string): string {
    const dir = this.tempDir();
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, name);
    fs.writeFileSync(file, this.safe(text));
    return file;
  }

  /** Directory for report files that should survive the step (Agent.TempDirectory). */
  private tempDir(): string {
    return tl.getVariable('Agent.TempDirectory') ?? os.tmpdir();
  }
}

/**
 * Run a task's main function. User errors fail the task with their message only; unexpected
 * errors add a stack trace only when System.Debug is true.
 */
export function runTask(taskDir: string, main: (io: AgentIo) => Promise<void>): void {
  tl.setResourcePath(path.join(taskDir, 'task.json'), true);
  const io = new AgentIo();
  let ended = false;
  const end = (e: unknown) => {
    if (ended) return;
    ended = true;
    const err = translateAzureError(e, { action: msg('ActionCompleteTask') });
    if (err instanceof UserError) {
      io.failed(err.message);
    } else {
      if ((tl.getVariable('System.Debug') ?? '').toLowerCase() === 'true' && err.stack) io.debug(err.stack);
      io.failed(msg('UnexpectedError', err.message));
    }
    // Keep-alive sockets of the HTTP clients must not hold the step open. The agent reads the
    // result from task.complete; the exit code says the same to anyone running the task by hand.
    setImmediate(() => process.exit(1));
  };
  // Node prints an unhandled error to stderr, which the agent also reads for commands: route it here.
  process.on('uncaughtException', end);
  process.on('unhandledRejection', end);
  const start = async () => {
    refuseLeakyDiagnostics(io);
    await main(io);
  };
  start()
    .then(() => {
      if (!io.resultSet) tl.setResult(tl.TaskResult.Succeeded, '');
      ended = true;
      setImmediate(() => process.exit());
    })
    .catch(end);
}

/**
 * Diagnostics that would print credentials: Node's NODE_DEBUG for its HTTP and TLS modules logs
 * every request header (Authorization) and is read before any task code runs, so it is refused;
 * the Azure SDK's logger (AZURE_LOG_LEVEL, DEBUG=azure*) would log the proxy password, so it is
 * switched off in this process before the SDK loads. System.Debug gives our own debug lines.
 */
function refuseLeakyDiagnostics(io: AgentIo): void {
  const nodeDebug = process.env.NODE_DEBUG ?? '';
  if (/\b(http2?|https|net|tls|fetch|undici)\b/i.test(nodeDebug)) {
    throw new UserError(msg('NodeDebugRefused', nodeDebug));
  }
  for (const name of ['AZURE_LOG_LEVEL', 'DEBUG']) {
    if (process.env[name]) {
      io.debug(msg('DiagnosticVariableCleared', name));
      delete process.env[name];
    }
  }
}
