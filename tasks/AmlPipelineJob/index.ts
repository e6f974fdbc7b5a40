/** AmlPipelineJob@1 entry point: read inputs, call the core, set outputs. */
import * as path from 'node:path';
import { runTask } from '../common/agent';
import { UserError } from '../common/errors';
import { connectionInput, gateSettings, workspaceInputs } from '../common/inputs';

/** `key=value` lines, as the tags input takes them. */
function parseTags(lines: string[]): Record<string, string> {
  const tags: Record<string, string> = {};
  lines.forEach((l, i) => {
    const eq = l.indexOf('=');
    if (eq <= 0) throw new UserError(`Input 'tags': line ${i + 1} '${l}' is not key=value. Write one tag per line, e.g. team=fraud.`, 'tags');
    tags[l.slice(0, eq).trim()] = l.slice(eq + 1).trim();
  });
  return tags;
}

runTask(__dirname, async (io) => {
  const connection = connectionInput(io)!;
  const ws = workspaceInputs(io);
  const gate = gateSettings(io);
  const jobFile = io.file('jobFile', true, 'Give the path of a CLI v2 pipeline-job YAML (type: pipeline), relative to the repository root.');
  const root = path.resolve(io.variable('Build.SourcesDirectory') ?? io.variable('System.DefaultWorkingDirectory') ?? process.cwd());
  const timeoutMs = Math.round(io.number('timeoutMinutes', 120, 0, 60 * 24 * 30) * 60_000);
  const experimentName = io.input('experimentName');
  const displayName = io.input('displayName');
  const job = { file: jobFile, overrides: io.lines('overrides'), tags: parseTags(io.lines('tags')), ...(experimentName ? { experimentName } : {}), ...(displayName ? { displayName } : {}) };
  // The YAML translation and the Azure SDKs load only once the inputs are valid.
  await (await import('./azure')).run(io, { connection, ws, job, root, gate, wait: io.bool('wait', true), timeoutMs, cancelOnTimeout: io.bool('cancelOnTimeout', true) });
});
