/**
 * The hostile-input suite's tools: attacker text that tries to become agent commands, the check
 * that a run issued only its own commands, and a second HTTPS host that records whether anything
 * (above all an Authorization header) reached it.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { loadTlsMaterial } from '../../testkit/emulator/tls';
import { DIST, visibleText, type TaskRun } from '../../testkit/harness';

export const MARK = 'PWNED';

/**
 * Text from a source someone else controls, as an attacker would shape it: commands at a line
 * start, mid-line, after a CR, with an invisible character spliced in, and a format command.
 * `tag` names the source, so a test can prove the text reached the output (neutralised).
 */
export function hostile(tag: string): string {
  return [
    `bad row ##vso[task.setvariable variable=${MARK}_${tag}]1`,
    `##vso[task.prependpath]/tmp/${MARK}_${tag}`,
    `x\r##vso[task.setvariable variable=NODE_OPTIONS]--require /tmp/${MARK}.js`,
    `#\u200b#vso[task.complete result=Succeeded;]${MARK}`,
    `##[error]${MARK} fake`,
  ].join('\n');
}

/** The same, on one line (for names, statuses and other single-line fields). */
export function hostileLine(tag: string): string {
  return `${tag} ##vso[task.setvariable variable=${MARK}_${tag}]1 ##[section]${MARK}`;
}

/** Proof that `tag`'s text got as far as the output, defused. */
export function reachedOutput(run: TaskRun, tag: string): boolean {
  // DNS answers come back in lower case.
  return visibleText(run).toLowerCase().includes(`**vso[task.setvariable variable=${MARK}_${tag}]`.toLowerCase());
}

const OWN = new Set([
  'task.debug',
  'task.issue',
  'task.complete',
  'task.setprogress',
  'task.setsecret',
  'task.uploadsummary',
  'task.setvariable',
]);

function declaredOutputs(task: string): Set<string> {
  const json = JSON.parse(fs.readFileSync(path.join(DIST, task, 'task.json'), 'utf8')) as { outputVariables?: Array<{ name: string }> };
  return new Set((json.outputVariables ?? []).map((o) => o.name));
}

/**
 * Every agent command the run printed is one of the task's own (task-lib's typed commands, output
 * variables it declares, one result), no line carries a second command or a `##[` anywhere but at
 * the start of the task's own group lines, and summaries and reports carry none at all. Returns
 * the number of commands checked, so a caller can assert the scan saw something.
 */
export function assertOnlyOwnCommands(run: TaskRun, task: string): number {
  const outputs = declaredOutputs(task);
  for (const c of run.commands) {
    assert.ok(OWN.has(c.name), `a foreign agent command: ##vso[${c.name}] ${JSON.stringify(c.props)}`);
    if (c.name === 'task.setvariable') {
      assert.equal(c.props.isOutput, 'true', `a plain variable set: ${JSON.stringify(c.props)}`);
      assert.ok(outputs.has(c.props.variable ?? ''), `an undeclared output variable: ${c.props.variable}`);
    }
    assert.ok(!JSON.stringify(c.props).toUpperCase().includes(MARK), `attacker text in command properties: ${JSON.stringify(c.props)}`);
  }
  assert.ok(run.commands.filter((c) => c.name === 'task.complete').length <= 1, 'one result at most');
  // The agent splits lines at \n and at a bare \r, reads stderr as well as stdout, and acts on the
  // first ##vso[ of a line (the rest is that command's data). Lines of our own text carry none;
  // our commands' data (through the sink) carries none either. task-lib's own debug echo of an
  // input (`##vso[task.debug]name=value`) is data the agent never runs, so only it may.
  for (const line of `${run.stdout}\n${run.stderr}`.split(/\r\n|\n|\r/)) {
    if (line.startsWith('##vso[task.debug]')) continue;
    const at = line.indexOf('##vso[');
    assert.ok(at <= 0 && line.indexOf('##vso[', at + 1) < 0, `a command inside a line: ${line}`);
    if (/^##\[(group|endgroup)\]/.test(line)) assert.ok(!line.slice(3).includes('##['), `a second format command: ${line}`);
    else assert.ok(!line.includes('##['), `a format command in a line: ${line}`);
  }
  for (const s of run.summaries) assert.ok(!/##(vso)?\[/i.test(s.content), `a command in the summary ${s.path}`);
  for (const f of fs.readdirSync(run.tempDir)) {
    const p = path.join(run.tempDir, f);
    if (fs.statSync(p).isFile()) assert.ok(!/##(vso)?\[/i.test(fs.readFileSync(p, 'utf8')), `a command in ${f}`);
  }
  return run.commands.length;
}

export interface OtherHost {
  origin: string;
  requests: Array<{ method: string; url: string; authorization?: string }>;
  close(): Promise<void>;
}

/**
 * A second HTTPS origin (another port of 127.0.0.1, trusted through the same test CA) that
 * answers every request with `{}` and records it. No credential may ever reach it.
 */
export async function startOtherHost(): Promise<OtherHost> {
  const tls = loadTlsMaterial();
  const requests: OtherHost['requests'] = [];
  const server = https.createServer({ cert: tls.serverCertPem, key: tls.serverKeyPem }, (req, res) => {
    requests.push({
      method: req.method ?? '',
      url: req.url ?? '',
      ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
    });
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
