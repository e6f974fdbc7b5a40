/**
 * The evaluation gate of AmlModelRegister@1: parsing `metricGate` and `compareWith`, and judging
 * a candidate's metrics against the thresholds and a champion's recorded metrics. Pure.
 *
 * Grammar of `metricGate` (one condition per line; blank lines and lines starting with '#' are
 * skipped; a trailing ` # comment` is allowed):
 *
 *   condition  := metric-ref op number
 *   metric-ref := [step "."] metric
 *   step       := [A-Za-z0-9_] [A-Za-z0-9_-]*      the step's name (its key under `jobs`)
 *   metric     := bare | "`" any text but "`" "`"
 *   bare       := one or more characters other than white space, "`", "<", ">", "=", "!"
 *   op         := ">=" | ">" | "<=" | "<" | "==" | "!="
 *   number     := [+-] digits [. digits] [e [+-] digits]   (or .digits)
 *
 * A bare reference that contains a dot is split at its first dot, so `train.rmse` is metric
 * `rmse` of step `train` and `train.val/auc` is `val/auc` of step `train`. A metric of the job's
 * own run whose name contains a dot is written in backticks: `` `val.auc` >= 0.8 ``. The split
 * depends on the text only, never on which steps exist, so a line keeps its meaning when the
 * pipeline changes.
 */
import { UserError } from '../common/errors';
import { msg } from './messages';

export type Op = '>=' | '>' | '<=' | '<' | '==' | '!=';
const OPS: Op[] = ['>=', '<=', '==', '!=', '>', '<'];

export interface MetricRef {
  /** The step whose run logged the metric; undefined for the job's own run. */
  step?: string;
  metric: string;
}

export interface Condition {
  /** 1-based line number in the input. */
  line: number;
  text: string;
  ref: MetricRef;
  /** Canonical reference text (`auc`, `train.rmse`, `` `val.auc` ``): the summary and tag key use it. */
  key: string;
  op: Op;
  threshold: number;
}

export const STEP_NAME = /^[A-Za-z0-9_][A-Za-z0-9_-]*$/;
const BARE = /^[^\s`<>=!]+/;
const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

/** The canonical text of a reference: backticks only where a dot would otherwise be read as a step prefix. */
export function refKey(ref: MetricRef): string {
  const metric = !ref.step && ref.metric.includes('.') ? `\`${ref.metric}\`` : ref.metric;
  return ref.step ? `${ref.step}.${metric}` : metric;
}

/** Tag key under which a gated metric is recorded on the model version (compareWith reads it back). */
export const metricTagKey = (c: Pick<Condition, 'key'>): string => `metric.${c.key}`;

function parseLine(text: string): Omit<Condition, 'line' | 'text'> | string {
  let rest = text.replace(/\s+#.*$/, '').trim();
  let step: string | undefined;
  let metric: string;
  const quoted = (s: string): RegExpExecArray | null => /^`([^`]+)`/.exec(s);
  const q = quoted(rest);
  if (q) {
    metric = q[1]!;
    rest = rest.slice(q[0].length);
  } else {
    const bare = BARE.exec(rest);
    if (!bare) return rest.startsWith('`') ? msg('ConditionQuoteNotClosed') : msg('ConditionNoMetric');
    const token = bare[0];
    rest = rest.slice(token.length);
    if (token.endsWith('.') && rest.startsWith('`')) {
      step = token.slice(0, -1);
      const q2 = quoted(rest);
      if (!q2) return msg('ConditionQuoteNotClosed');
      metric = q2[1]!;
      rest = rest.slice(q2[0].length);
    } else if (token.includes('.')) {
      step = token.slice(0, token.indexOf('.'));
      metric = token.slice(token.indexOf('.') + 1);
      if (!metric) return msg('ConditionNoMetricAfterDot', token, step);
    } else {
      metric = token;
    }
  }
  if (step !== undefined && !STEP_NAME.test(step)) return msg('ConditionBadStep', step);
  if (!metric.trim()) return msg('ConditionEmptyMetric');
  rest = rest.trimStart();
  const op = OPS.find((o) => rest.startsWith(o));
  if (!op) {
    if (/^=>|^=</.test(rest)) return msg('ConditionSwappedOperator', rest[1], rest.slice(0, 2));
    if (rest.startsWith('=')) return msg('ConditionSingleEquals');
    if (!rest) return msg('ConditionNoOperator', metric);
    return msg('ConditionUnknownOperator', rest.split(/\s/)[0]);
  }
  const num = rest.slice(op.length).trim();
  if (!num) return msg('ConditionNoNumber', op);
  if (!NUMBER.test(num)) return msg('ConditionNotNumber', num);
  const threshold = Number(num);
  if (!Number.isFinite(threshold)) return msg('ConditionNotFinite', num);
  const ref: MetricRef = step === undefined ? { metric } : { step, metric };
  return { ref, key: refKey(ref), op, threshold };
}

/** Conditions of the `metricGate` input; an unparsable line fails with its number and text. */
export function parseMetricGate(text: string | undefined): Condition[] {
  const input = 'metricGate';
  const out: Condition[] = [];
  (text ?? '').split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const parsed = parseLine(line);
    if (typeof parsed === 'string') throw new UserError(msg('InvalidCondition', input, i + 1, line, parsed), input);
    out.push({ line: i + 1, text: line, ...parsed });
  });
  return out;
}

// ---- compareWith ----------------------------------------------------------------------

export type CompareWith = { kind: 'none' } | { kind: 'latest' } | { kind: 'tag'; key: string; value: string };

/** `none`, `latest` or `tag:<key>=<value>`. */
export function parseCompareWith(text: string | undefined): CompareWith {
  const input = 'compareWith';
  const t = (text ?? '').trim();
  if (!t || t.toLowerCase() === 'none') return { kind: 'none' };
  if (t.toLowerCase() === 'latest') return { kind: 'latest' };
  const m = /^tag:(.*)$/i.exec(t);
  if (!m) throw new UserError(msg('CompareWithInvalid', input, t), input);
  const body = m[1]!;
  const eq = body.indexOf('=');
  const key = eq > 0 ? body.slice(0, eq).trim() : '';
  const value = eq > 0 ? body.slice(eq + 1).trim() : '';
  if (!key || !value) throw new UserError(msg('CompareWithNoTag', input, t), input);
  // Azure ML's version list filters tags as `key=value,key2=value2`.
  if (/[,=]/.test(key) || value.includes(',')) throw new UserError(msg('CompareWithBadTag', input, t), input);
  return { kind: 'tag', key, value };
}

export function describeCompare(c: CompareWith): string {
  return c.kind === 'none' ? 'none' : c.kind === 'latest' ? msg('CompareLatest') : msg('CompareTagged', c.key, c.value);
}

/** Which way is better for an operator: +1 higher, -1 lower, 0 neither (== and != are thresholds only). */
export function direction(op: Op): 1 | -1 | 0 {
  return op === '>' || op === '>=' ? 1 : op === '<' || op === '<=' ? -1 : 0;
}

/**
 * With a champion comparison every gated metric needs one direction: `auc >= 0.8` and
 * `auc <= 0.99` together would ask the candidate to be both higher and lower than the champion.
 */
export function checkComparable(conditions: Condition[]): void {
  const input = 'metricGate';
  if (!conditions.some((c) => direction(c.op) !== 0)) {
    throw new UserError(msg('CompareWithNeedsDirection', input), input);
  }
  const dirs = new Map<string, Set<number>>();
  for (const c of conditions) {
    const d = direction(c.op);
    if (d === 0) continue;
    const s = dirs.get(c.key) ?? new Set<number>();
    s.add(d);
    dirs.set(c.key, s);
  }
  for (const [key, s] of dirs) {
    if (s.size > 1) throw new UserError(msg('CompareWithBothDirections', input, key), input);
  }
}

// ---- judging --------------------------------------------------------------------------

export function holds(value: number, op: Op, threshold: number): boolean {
  switch (op) {
    case '>=':
      return value >= threshold;
    case '>':
      return value > threshold;
    case '<=':
      return value <= threshold;
    case '<':
      return value < threshold;
    case '==':
      return value === threshold;
    case '!=':
      return value !== threshold;
  }
}

export interface Champion {
  /** `name:version`, for messages. */
  label: string;
  tags: Record<string, string>;
}

export interface ChampionCheck {
  /** The champion's recorded value; undefined when its version has no such tag. */
  value?: number;
  /** What the candidate had to reach (champion ± minImprovement). */
  required?: number;
  pass: boolean;
}

export interface GateRow {
  condition: Condition;
  value: number;
  thresholdPass: boolean;
  /** Set when compared with a champion (not for == and !=). */
  champion?: ChampionCheck;
  pass: boolean;
  /** Why it failed (one or more reasons); undefined when it passed. */
  failure?: string;
  /** One line: "pass", or "FAIL: " and the failure. */
  verdict: string;
}

export interface GateJudgement {
  pass: boolean;
  rows: GateRow[];
}

/** A metric value as messages and the summary show it: 12 significant digits, no float noise. */
export const fmt = (n: number): string => String(Number(n.toPrecision(12)));

/**
 * Judge each condition: the threshold, then (with a champion, for >, >=, <, <=) the champion's
 * recorded value moved by `minImprovement` in the operator's direction, compared with the same
 * operator: with >= or <= an equal value passes, with > or < it must be strictly better.
 * A champion without the metric's tag fails the condition: its value is unknown, so the
 * candidate cannot be shown to beat it.
 */
export function judge(
  conditions: Condition[],
  values: ReadonlyMap<string, number>,
  opts: { champion?: Champion; minImprovement?: number } = {},
): GateJudgement {
  const min = opts.minImprovement ?? 0;
  const rows = conditions.map((c): GateRow => {
    const value = values.get(c.key);
    if (value === undefined) throw new Error(`no value for metric ${c.key}`);
    if (!Number.isFinite(value)) {
      const failure = msg('ValueNotFinite', String(value));
      return { condition: c, value, thresholdPass: false, pass: false, failure, verdict: msg('VerdictFail', failure) };
    }
    const thresholdPass = holds(value, c.op, c.threshold);
    const reasons: string[] = [];
    if (!thresholdPass) reasons.push(msg('ThresholdNotMet', fmt(value), c.op, fmt(c.threshold)));
    let champion: ChampionCheck | undefined;
    const dir = direction(c.op);
    if (opts.champion && dir !== 0) {
      const tag = opts.champion.tags[metricTagKey(c)];
      const recorded = tag !== undefined && tag.trim() !== '' ? Number(tag) : NaN;
      if (!Number.isFinite(recorded)) {
        champion = { pass: false };
        reasons.push(msg('ChampionNotRecorded', opts.champion.label, c.key, metricTagKey(c)));
      } else {
        const required = recorded + dir * min;
        const improvement = dir * (value - recorded);
        const eps = 1e-12 * Math.max(1, Math.abs(value), Math.abs(recorded));
        const strict = c.op === '>' || c.op === '<';
        const pass = strict ? improvement > min + eps : improvement >= min - eps;
        champion = { value: recorded, required, pass };
        if (!pass) {
          const args = [fmt(value), opts.champion.label, fmt(recorded)] as const;
          if (min > 0) reasons.push(msg('ChampionNotBeatenBy', ...args, fmt(min), c.op, fmt(required)));
          else if (!strict) reasons.push(msg('ChampionNotAsGood', ...args));
          else reasons.push(dir > 0 ? msg('ChampionNotHigher', ...args) : msg('ChampionNotLower', ...args));
        }
      }
    }
    const pass = thresholdPass && (champion?.pass ?? true);
    const row = { condition: c, value, thresholdPass, ...(champion ? { champion } : {}), pass };
    if (pass) return { ...row, verdict: msg('VerdictPass') };
    const failure = reasons.join('; ');
    return { ...row, failure, verdict: msg('VerdictFail', failure) };
  });
  return { pass: rows.every((r) => r.pass), rows };
}

/** The gated metrics as model version tags (`metric.<ref>` = value), the record compareWith reads later. */
export function metricTags(conditions: Condition[], values: ReadonlyMap<string, number>): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const c of conditions) {
    const v = values.get(c.key);
    if (v !== undefined) tags[metricTagKey(c)] = String(v);
  }
  return tags;
}
