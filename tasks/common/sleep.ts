/**
 * Waiting that a cancelled run (AgentIo.signal) cuts short: the one home of every loop that sleeps
 * between tries, so that each of them stops at once when the run is cancelled.
 */

/** Sleep that ends early when the run is cancelled. */
export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

export interface PollOptions<T> {
  signal: AbortSignal;
  /** Most reads before giving up and returning the last one unsettled. */
  maxPolls: number;
  /** Pause before read n+1 (n from 0): an exponential backoff by default. */
  delayMs?: (n: number) => number;
  /** Told about each unsettled read before the pause. */
  onWait?: (value: T) => void;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

/** 250 ms doubling to at most 5 s. */
export const exponentialDelay = (n: number): number => Math.min(5000, 250 * 2 ** Math.min(n, 5));

/**
 * Reads until `settled` says so, the reads run out, or the run is cancelled; returns the last read
 * and whether it settled. A cancelled wait returns at once without another read.
 */
export async function pollUntil<T>(
  read: () => Promise<T>,
  settled: (value: T) => boolean,
  o: PollOptions<T>,
): Promise<{ value: T; settled: boolean; cancelled: boolean }> {
  const sleep = o.sleep ?? abortableSleep;
  const delay = o.delayMs ?? exponentialDelay;
  for (let n = 0; ; n++) {
    const value = await read();
    if (settled(value)) return { value, settled: true, cancelled: false };
    if (n + 1 >= o.maxPolls) return { value, settled: false, cancelled: false };
    o.onWait?.(value);
    await sleep(delay(n), o.signal);
    if (o.signal.aborted) return { value, settled: false, cancelled: true };
  }
}

/**
 * Calls `attempt` again after each pause of `delaysMs` while `retryable` says the failure is
 * transient; the last failure (or a cancellation during a pause) is thrown as it came.
 */
export async function retry<T>(
  attempt: () => Promise<T>,
  o: {
    delaysMs: readonly number[];
    retryable: (e: unknown) => boolean;
    signal?: AbortSignal;
    sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  },
): Promise<T> {
  const sleep = o.sleep ?? abortableSleep;
  const signal = o.signal ?? new AbortController().signal;
  for (let n = 0; ; n++) {
    try {
      return await attempt();
    } catch (e) {
      if (n >= o.delaysMs.length || !o.retryable(e) || signal.aborted) throw e;
      await sleep(o.delaysMs[n]!, signal);
      if (signal.aborted) throw e;
    }
  }
}
