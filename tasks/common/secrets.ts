/**
 * Secret hygiene. Every secret and token goes through `protect` before any use, so the
 * agent masks it in the log (task-lib emits `##vso[task.setsecret]`).
 */
export type SecretSink = (value: string) => void;

export class Secrets {
  private readonly seen = new Set<string>();
  constructor(private readonly sink: SecretSink) {}

  /** Register `value` with the agent (once) and return it unchanged. */
  protect<T extends string | undefined>(value: T): T {
    if (value && !this.seen.has(value)) {
      this.seen.add(value);
      // The agent masks line by line: register each line of a multi-line secret (PEM).
      for (const line of value.split(/\r?\n/)) {
        const trimmed = line.trim();
        if (trimmed.length >= 4 && !/^-----(BEGIN|END) /.test(trimmed)) this.sink(trimmed);
      }
    }
    return value;
  }
}
