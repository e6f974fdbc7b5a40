/**
 * The task.json the vsix ships: the task's own plus the shared core's messages
 * (tasks/common/messages.json), so task-lib's loc finds every key the bundle uses. Used by
 * build.mjs (which writes it) and package.mjs (which checks the vsix carries it).
 */
import fs from 'node:fs';
import path from 'node:path';

export function readCommonMessages(root) {
  return JSON.parse(fs.readFileSync(path.join(root, 'tasks', 'common', 'messages.json'), 'utf8'));
}

/** `clash` lists keys in both catalogues, which the build refuses. */
export function shippedTaskJson(taskJson, commonMessages) {
  const own = taskJson.messages ?? {};
  return { json: { ...taskJson, messages: { ...commonMessages, ...own } }, clash: Object.keys(own).filter((k) => k in commonMessages) };
}

export const jsonText = (value) => `${JSON.stringify(value, null, 2)}\n`;
