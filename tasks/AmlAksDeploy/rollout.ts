/**
 * The rollout plan and its traffic maths: the steps input, the traffic split at each step (the
 * new deployment takes its share, the deployments that served before share the rest in their
 * old proportions), the split that restores the previous state exactly, and how splits read.
 * Pure: no I/O.
 */
import { inputError } from '../common/errors';
import { msg } from './messages';

/** Deployment name -> percent of the endpoint's traffic, as Azure ML's `traffic` map holds it. */
export type Traffic = Record<string, number>;

/** `10,50,100` (commas, spaces, optional %): increasing whole percents from 1 to 100, ending at 100. */
export function parseRollout(text: string | undefined): number[] {
  const raw = (text ?? '').trim() || '10,50,100';
  const items = raw.split(/[,;\s]+/).filter((s) => s !== '');
  const steps: number[] = [];
  for (const item of items) {
    const m = /^(\d{1,3})%?$/.exec(item);
    if (!m) throw inputError('rollout', msg('RolloutStepNotPercent', item), msg('RolloutStepNotPercentFix'));
    const v = Number(m[1]);
    if (v < 1 || v > 100) throw inputError('rollout', msg('RolloutStepOutOfRange', v), msg('RolloutStepOutOfRangeFix'));
    const prev = steps.at(-1);
    if (prev !== undefined && v <= prev)
      throw inputError('rollout', msg('RolloutStepNotIncreasing', v, prev, raw), msg('RolloutStepNotIncreasingFix'));
    steps.push(v);
  }
  if (steps.at(-1) !== 100) {
    throw inputError('rollout', msg('RolloutLastStepNotFull', `${steps.at(-1)}%`, '100%'), msg('RolloutLastStepNotFullFix'));
  }
  return steps;
}

/** Total percent of a split. */
export const total = (t: Traffic): number => Object.values(t).reduce((s, v) => s + v, 0);

/** The deployments that serve traffic (share > 0), largest share first. */
export function serving(t: Traffic): string[] {
  return Object.entries(t)
    .filter(([, v]) => v > 0)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([k]) => k);
}

/**
 * The split at a step: `newName` gets `percent`, and the rest goes to the deployments that
 * served before, in proportion to their old shares (largest remainder, so every value is a
 * whole percent and the total is exactly 100). Deployments that had 0% keep 0%.
 */
export function splitAt(previous: Traffic, newName: string, percent: number): Traffic {
  if (!Number.isInteger(percent) || percent < 0 || percent > 100) throw new RangeError(`percent ${percent}`);
  const before = serving(previous);
  const old = total(previous);
  if (old === 0 && percent < 100) throw new RangeError('no deployment served traffic before: only 100% is possible');
  const rest = 100 - percent;
  const out: Traffic = {};
  for (const k of Object.keys(previous)) if (k !== newName) out[k] = 0;
  if (old > 0) {
    const exact = before.map((k) => ({ k, x: (rest * previous[k]!) / old }));
    let given = 0;
    for (const e of exact) {
      out[e.k] = Math.floor(e.x);
      given += out[e.k]!;
    }
    // Hand the leftover points to the largest remainders (ties: the larger old share, then name).
    const order = [...exact].sort(
      (a, b) => b.x - Math.floor(b.x) - (a.x - Math.floor(a.x)) || previous[b.k]! - previous[a.k]! || a.k.localeCompare(b.k),
    );
    for (let i = 0; given < rest; i++, given++) out[order[i % order.length]!.k]! += 1;
  }
  out[newName] = percent;
  return out;
}

export interface RolloutPlan {
  /** The new deployment's share at each step. */
  steps: number[];
  /** Why the steps differ from the input, when they do. */
  note?: string;
}

/**
 * The steps to take. When nothing served traffic before (a first deployment, or every share 0),
 * there is no one to share with: the new deployment goes to 100% in one step.
 */
export function planRollout(previous: Traffic, steps: number[]): RolloutPlan {
  if (total(previous) === 0 && steps.length > 1) {
    return { steps: [100], note: msg('RolloutFirstDeploymentNote', '100%', steps.join(', ')) };
  }
  return { steps };
}

/** `blue 90%, green 10%` (serving deployments first; `none` when nothing serves). */
export function formatTraffic(t: Traffic): string {
  const parts = serving(t).map((k) => `${k} ${t[k]}%`);
  return parts.length ? parts.join(', ') : msg('NoTraffic');
}

/** Same split, ignoring 0% entries (Azure ML may or may not list a deployment at 0%). */
export function sameTraffic(a: Traffic, b: Traffic): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const k of keys) if ((a[k] ?? 0) !== (b[k] ?? 0)) return false;
  return true;
}

/** An az CLI line that sets this split, for messages that ask the user to finish by hand. */
export function trafficCommand(endpoint: string, t: Traffic): string {
  const pairs = Object.entries(t).map(([k, v]) => `${k}=${v}`);
  return `az ml online-endpoint update --name ${endpoint} --traffic "${pairs.join(' ') || '(none)'}"`;
}
