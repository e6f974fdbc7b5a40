/**
 * The one rule for every character a task (or the jump-host command) prints, writes into a run
 * summary or a report: no agent command can come out of it.
 *
 * The agent runs a logging command found anywhere in a line of stdout or stderr (it searches for
 * `##vso[`; older agents with a culture-aware search that skips invisible characters), and the
 * log viewer renders `##[` formatting commands. Text that someone else controls reaches us from
 * Azure (error messages, step names, statuses), DNS answers, files and inputs. Both prefixes are
 * rewritten the way the agent's own neutraliser does (`##vso` -> `**vso`), also when invisible
 * characters are spliced into them. Pure: no task-lib, so the core and the command can use it.
 */

/** Characters a culture-aware comparison may ignore: format characters and C0 controls but tab and line ends. */
const SKIP = '[\\p{Cf}\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\u007f]*';
const PREFIX = new RegExp(`#${SKIP}#${SKIP}(?:(v${SKIP}s${SKIP}o)${SKIP})?\\[`, 'giu');

/** `text` with every `##vso[` and `##[` (in any case, with or without invisible characters inside) defused. */
export function neutralize(text: string): string {
  return text.replace(PREFIX, (_m, vso: string | undefined) => (vso ? '**vso[' : '**['));
}
