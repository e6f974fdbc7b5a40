/**
 * The task.json the vsix ships: the task's own plus the shared core's messages
 * (tasks/common/messages.json), so task-lib's loc finds every key the bundle uses. Used by
 * build.mjs (which writes it) and package.mjs (which checks the vsix carries it).
 */
import fs from 'node:fs';
import path from 'node:path';

/**
 * The one version of the extension and its tasks: package.json's. The build stamps it into every
 * shipped task.json and the package into the manifest; the sources carry none, so nothing drifts.
 * The major version is the tasks' major (AmlPipelineJob@1): change it only for a breaking change.
 */
export function projectVersion(root) {
  const version = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).version;
  const m = /^(\d+)\.(\d+)\.(\d+)$/.exec(String(version));
  if (!m) throw new Error(`package.json version '${version}' is not major.minor.patch`);
  return { text: version, task: { Major: Number(m[1]), Minor: Number(m[2]), Patch: Number(m[3]) } };
}

/** Where a source file still carries a version of its own (the build refuses it). */
export function strayVersion(json, file) {
  return json.version !== undefined ? `${file} sets "version"; remove it: the version comes from package.json only` : undefined;
}

export function readCommonMessages(root) {
  return JSON.parse(fs.readFileSync(path.join(root, 'tasks', 'common', 'messages.json'), 'utf8'));
}

/** `clash` lists keys in both catalogues, which the build refuses. `version` is projectVersion().task. */
export function shippedTaskJson(taskJson, commonMessages, version) {
  const own = taskJson.messages ?? {};
  // The version goes where the schema's examples keep it: after the category fields.
  const { messages: _m, ...rest } = taskJson;
  const ordered = {};
  for (const [k, v] of Object.entries(rest)) {
    ordered[k] = v;
    if (k === 'author') ordered.version = version;
  }
  if (!('version' in ordered)) ordered.version = version;
  return { json: { ...ordered, messages: { ...commonMessages, ...own } }, clash: Object.keys(own).filter((k) => k in commonMessages) };
}

export const jsonText = (value) => `${JSON.stringify(value, null, 2)}\n`;
