/**
 * Secret hygiene. Every secret and token goes through `protect` before any use, so the
 * agent masks it in the log (task-lib emits `##vso[task.setsecret]`), and `redact` takes every
 * one of them out of what the task writes itself: summaries and reports are uploaded unmasked,
 * and a multi-line secret (PEM) escaped into one line would slip past the agent's masks.
 */
export type SecretSink = (value: string) => void;

/** What replaces a secret in text the task writes; the agent masks with the same. */
export const REDACTED = '***';

export class Secrets {
  private readonly seen = new Set<string>();
  /** Every registered piece (a secret, or each line of a multi-line one), longest first. */
  private pieces: string[] = [];
  constructor(private readonly sink: SecretSink) {}

  /** Register `value` with the agent (once) and return it unchanged. */
  protect<T extends string | undefined>(value: T): T {
    if (value && !this.seen.has(value)) {
      this.seen.add(value);
      const added: string[] = [];
      // The agent masks line by line: register each line of a multi-line secret (PEM).
      for (const line of value.split(/\r?\n/)) {
        const trimmed = line.trim();
        if (trimmed.length >= 4 && !/^-----(BEGIN|END) /.test(trimmed)) {
          this.sink(trimmed);
          added.push(trimmed);
        }
      }
      // Longest first, so a secret that contains another is replaced whole.
      this.pieces = [...this.pieces, ...added].sort((a, b) => b.length - a.length);
    }
    return value;
  }

  /** `text` with every registered secret replaced by ***. */
  redact(text: string): string {
    let out = text;
    for (const p of this.pieces) if (out.includes(p)) out = out.split(p).join(REDACTED);
    return out;
  }
}
