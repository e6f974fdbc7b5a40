/**
 * The one guard for paths that come from inputs or YAML files: a path must stay inside the
 * sources folder, both as written and after every symbolic link is followed, so a pipeline
 * cannot make a task read (or upload) the agent's files, /proc or another job's folder.
 * Callers turn a refusal into their own message (an input name, or a YAML file and line).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The allowed root: absolute as given, and its real path. */
export interface SourcesRoot {
  root: string;
  realRoot: string;
}

export function sourcesRootOf(root: string): SourcesRoot {
  const abs = path.resolve(root);
  let realRoot: string;
  try {
    realRoot = fs.realpathSync(abs);
  } catch {
    realRoot = abs;
  }
  return { root: abs, realRoot };
}

/** True when `child` is `parent` or below it: `..data` is a folder inside, `../data` is not. */
export function isInside(parent: string, child: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}

/** Why a path was refused: outside as written, missing (or a dangling link), a link loop, or a link that leads out. */
export type PathRefusal = 'outside' | 'missing' | 'loop' | 'linksOutside';

export class PathRefused extends Error {
  constructor(
    readonly kind: PathRefusal,
    /** The path as resolved from what was written. */
    readonly abs: string,
    /** Where the links led, for 'linksOutside'. */
    readonly real?: string,
  ) {
    super(`${kind}: ${abs}`);
  }
}

/**
 * Resolve `written` (relative to `base`, or absolute) and confine it to `root`. Returns the path
 * as written (absolute) and its real path; throws PathRefused. Reads no file content.
 */
export function confine(root: SourcesRoot, base: string, written: string): { abs: string; real: string } {
  const abs = path.resolve(base, written);
  if (!isInside(root.root, abs) && !isInside(root.realRoot, abs)) throw new PathRefused('outside', abs);
  let real: string;
  try {
    real = fs.realpathSync(abs);
  } catch (e) {
    throw new PathRefused((e as NodeJS.ErrnoException).code === 'ELOOP' ? 'loop' : 'missing', abs);
  }
  if (!isInside(root.realRoot, real)) throw new PathRefused('linksOutside', abs, real);
  return { abs, real };
}

/** At most `max` characters of the first line of `text`: what a message may quote of a file. */
export function excerpt(text: string, max = 40): string {
  const line = text.split(/\r?\n/, 1)[0] ?? '';
  return line.length > max ? `${line.slice(0, max)}…` : line;
}
