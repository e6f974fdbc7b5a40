/**
 * Localised messages without task-lib. Every user-facing string is a key with English text in a
 * catalogue (task.json `messages`, or common/messages.json for the shared core). On the agent,
 * AgentIo installs task-lib's `loc`, which reads the same keys from the task.json next to the
 * bundle and the `Strings/resources.resjson/<System.Culture>` override; elsewhere (unit tests,
 * the jump-host CLI) the English text is formatted directly.
 */
import { format } from 'node:util';

export type Localizer = (key: string, ...args: unknown[]) => string;

// index.js and azure.js each bundle a copy of this module: the installed localizer lives on
// globalThis so both copies see it.
const SLOT = Symbol.for('aml-secure-mlops.localizer');
type Slot = { [SLOT]?: Localizer | undefined };

/** Route every message through `localizer` (the agent's tl.loc) from now on. */
export function useLocalizer(localizer: Localizer | undefined): void {
  (globalThis as Slot)[SLOT] = localizer;
}

/** A message function over one catalogue; its keys are checked at compile time. */
export function catalogue<C extends Record<string, string>>(english: C): (key: keyof C & string, ...args: unknown[]) => string {
  return (key, ...args) => {
    const localizer = (globalThis as Slot)[SLOT];
    if (localizer) return localizer(key, ...args);
    // The key is checked at compile time; a missing text would show its key, as tl.loc does.
    const text = english[key] ?? key;
    return args.length ? format(text, ...args) : text;
  };
}
