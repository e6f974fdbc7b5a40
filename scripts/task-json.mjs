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
  const version = readPackage(root).version;
  const m = /^(\d+)\.(\d+)\.(\d+)$/.exec(String(version));
  if (!m) throw new Error(`package.json version '${version}' is not major.minor.patch`);
  return { text: version, task: { Major: Number(m[1]), Minor: Number(m[2]), Patch: Number(m[3]) } };
}

const readPackage = (root) => JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));

/** The repository of this copy of the project: package.json "repository", the base of every help link. */
export const PLACEHOLDER_REPOSITORY = 'https://github.com/contoso/aml-secure-mlops';
export function projectRepository(root) {
  const repo = readPackage(root).repository;
  const url = String((typeof repo === 'string' ? repo : repo?.url) ?? '')
    .replace(/^git\+/, '')
    .replace(/\.git$/, '')
    .replace(/\/+$/, '');
  if (!/^https:\/\/\S+$/.test(url)) throw new Error(`package.json "repository" ('${url}') must be the https URL of your repository`);
  return url;
}

/** The Marketplace manifest's links, all from the repository URL (README anchors for the help). */
export function manifestLinks(repo) {
  return {
    links: {
      home: { uri: repo },
      getstarted: { uri: `${repo}#quick-start` },
      repository: { uri: repo },
      issues: { uri: `${repo}/issues` },
      support: { uri: `${repo}/issues` },
      license: { uri: `${repo}/blob/main/LICENSE` },
    },
    repository: { type: 'git', uri: repo },
  };
}

/** A task's help: the README section of `name@major` (GitHub's anchor: lower case, no '@'). */
const helpUrl = (repo, name, major) => `${repo}#${`${name}${major}`.toLowerCase()}`;

/** Where a source file still carries a version of its own (the build refuses it). */
export function strayVersion(json, file) {
  return json.version !== undefined ? `${file} sets "version"; remove it: the version comes from package.json only` : undefined;
}

export function readCommonMessages(root) {
  return JSON.parse(fs.readFileSync(path.join(root, 'tasks', 'common', 'messages.json'), 'utf8'));
}

/**
 * `clash` lists keys in both catalogues, which the build refuses. `version` is projectVersion().task,
 * `repo` projectRepository(): the help link is stamped in, as the version is.
 */
export function shippedTaskJson(taskJson, commonMessages, version, repo) {
  const own = taskJson.messages ?? {};
  const help = helpUrl(repo, taskJson.name, version.Major);
  const { messages: _m, ...rest } = taskJson;
  const ordered = {};
  for (const [k, v] of Object.entries(rest)) {
    if (k === 'helpMarkDown') {
      ordered.helpUrl = help;
      ordered.helpMarkDown = `${v} [Learn more](${help})`;
    } else ordered[k] = v;
    // The version goes where the schema's examples keep it: after the category fields.
    if (k === 'author') ordered.version = version;
  }
  if (!('version' in ordered)) ordered.version = version;
  if (!('helpUrl' in ordered)) ordered.helpUrl = help;
  return { json: { ...ordered, messages: { ...commonMessages, ...own } }, clash: Object.keys(own).filter((k) => k in commonMessages) };
}

export const jsonText = (value) => `${JSON.stringify(value, null, 2)}\n`;
