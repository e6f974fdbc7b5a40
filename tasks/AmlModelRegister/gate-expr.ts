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
import { inputError } from '../common/errors';

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
const EXAMPLE = 'Each line is <metric> <op> <number>, e.g. auc >= 0.85 or train.rmse < 3.2 (op: >=, >, <=, <, ==, !=).';

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
    if (!bare) return rest.startsWith('`') ? 'a backtick-quoted metric name is not closed' : 'it does not start with a metric name';
    const token = bare[0];
    rest = rest.slice(token.length);
    if (token.endsWith('.') && rest.startsWith('`')) {
      step = token.slice(0, -1);
      const q2 = quoted(rest);
      if (!q2) return 'a backtick-quoted metric name is not closed';
      metric = q2[1]!;
      rest = rest.slice(q2[0].length);
    } else if (token.includes('.')) {
      step = token.slice(0, token.indexOf('.'));
      metric = token.slice(token.indexOf('.') + 1);
      if (!metric) return `'${token}' names step '${step}' but no metric after the dot`;
    } else {
      metric = token;
    }
  }
  if (step !== undefined && !STEP_NAME.test(step)) return `'${step}' is not a step name (letters, digits, '_' and '-'); quote a metric name that contains a dot in backticks`;
  if (!metric.trim()) return 'the metric name is empty';
  rest = rest.trimStart();
  const op = OPS.find((o) => rest.startsWith(o));
  if (!op) {
    if (/^=>|^=</.test(rest)) return `write '${rest[1]}=' rather than '${rest.slice(0, 2)}'`;
    if (rest.startsWith('=')) return "write '==' for equality";
    if (!rest) return `no operator and threshold after '${metric}'`;
    return `expected an operator (>=, >, <=, <, ==, !=) after the metric name, found '${rest.split(/\s/)[0]}'`;
  }
  const num = rest.slice(op.length).trim();
  if (!num) return `no number after '${op}'`;
  if (!NUMBER.test(num)) return `'${num}' is not a number`;
  const threshold = Number(num);
  if (!Number.isFinite(threshold)) return `'${num}' is not a finite number`;
  const ref: MetricRef = step === undefined ? { metric } : { step, metric };
  return { ref, key: refKey(ref), op, threshold };
}

/** Conditions of the `metricGate` input; an unparsable line fails with its number and text. */
export function parseMetricGate(text: string | undefined, input = 'metricGate'): Condition[] {
  const out: Condition[] = [];
  (text ?? '').split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const parsed = parseLine(line);
    if (typeof parsed === 'string') throw inputError(input, `line ${i + 1} '${line}' is not a condition: ${parsed}`, EXAMPLE);
    out.push({ line: i + 1, text: line, ...parsed });
  });
  return out;
}

// ---- compareWith ----------------------------------------------------------------------

export type CompareWith = { kind: 'none' } | { kind: 'latest' } | { kind: 'tag'; key: string; value: string };

/** `none`, `latest` or `tag:<key>=<value>`. */
export function parseCompareWith(text: string | undefined, input = 'compareWith'): CompareWith {
  const t = (text ?? '').trim();
  if (!t || t.toLowerCase() === 'none') return { kind: 'none' };
  if (t.toLowerCase() === 'latest') return { kind: 'latest' };
  const m = /^tag:(.*)$/i.exec(t);
  const fix = "Use 'none', 'latest' or 'tag:<key>=<value>', e.g. tag:stage=production.";
  if (!m) throw inputError(input, `'${t}' is not a comparison`, fix);
  const body = m[1]!;
  const eq = body.indexOf('=');
  const key = eq > 0 ? body.slice(0, eq).trim() : '';
  const value = eq > 0 ? body.slice(eq + 1).trim() : '';
  if (!key || !value) throw inputError(input, `'${t}' needs a tag key and value`, fix);
  // Azure ML's version list filters tags as `key=value,key2=value2`.
  if (/[,=]/.test(key) || value.includes(',')) throw inputError(input, `the tag in '${t}' contains ',' or '=' in its key, or ',' in its value, which the model list filter cannot express`, 'Choose a tag without commas.');
  return { kind: 'tag', key, value };
}

export function describeCompare(c: CompareWith): string {
  return c.kind === 'none' ? 'none' : c.kind === 'latest' ? 'the latest version' : `the newest version tagged ${c.key}=${c.value}`;
}

/** Which way is better for an operator: +1 higher, -1 lower, 0 neither (== and != are thresholds only). */
export function direction(op: Op): 1 | -1 | 0 {
  return op === '>' || op === '>=' ? 1 : op === '<' || op === '<=' ? -1 : 0;
}

/**
 * With a champion comparison every gated metric needs one direction: `auc >= 0.8` and
 * `auc <= 0.99` together would ask the candidate to be both higher and lower than the champion.
 */
export function checkComparable(conditions: Condition[], input = 'metricGate'): void {
  if (!conditions.some((c) => direction(c.op) !== 0)) {
    throw inputError(input, 'compareWith needs at least one condition with >, >=, < or <= (the operator says which direction is better)', 'Add a condition such as auc >= 0.8, or set compareWith to none.');
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
    if (s.size > 1) throw inputError(input, `metric '${key}' has conditions in both directions, so compareWith cannot tell whether higher or lower is better`, 'Keep one direction per metric when comparing with a champion.');
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
  /** One line: why it passed or failed. */
  verdict: string;
}

export interface GateJudgement {
  pass: boolean;
  rows: GateRow[];
}

const fmt = (n: number): string => String(Number(n.toPrecision(12)));

/**
 * Judge each condition: the threshold, then (with a champion, for >, >=, <, <=) the champion's
 * recorded value moved by `minImprovement` in the operator's direction, compared with the same
 * operator: with >= or <= an equal value passes, with > or < it must be strictly better.
 * A champion without the metric's tag fails the condition: its value is unknown, so the
 * candidate cannot be shown to beat it.
 */
export function judge(conditions: Condition[], values: ReadonlyMap<string, number>, opts: { champion?: Champion; minImprovement?: number } = {}): GateJudgement {
  const min = opts.minImprovement ?? 0;
  const rows = conditions.map((c): GateRow => {
    const value = values.get(c.key);
    if (value === undefined) throw new Error(`no value for metric ${c.key}`);
    if (!Number.isFinite(value)) {
      return { condition: c, value, thresholdPass: false, pass: false, verdict: `FAIL: the logged value is ${value}` };
    }
    const thresholdPass = holds(value, c.op, c.threshold);
    const reasons: string[] = [];
    if (!thresholdPass) reasons.push(`${fmt(value)} is not ${c.op} ${fmt(c.threshold)}`);
    let champion: ChampionCheck | undefined;
    const dir = direction(c.op);
    if (opts.champion && dir !== 0) {
      const tag = opts.champion.tags[metricTagKey(c)];
      const recorded = tag !== undefined && tag.trim() !== '' ? Number(tag) : NaN;
      if (!Number.isFinite(recorded)) {
        champion = { pass: false };
        reasons.push(`champion ${opts.champion.label} has no recorded ${c.key} (tag ${metricTagKey(c)})`);
      } else {
        const required = recorded + dir * min;
        const improvement = dir * (value - recorded);
        const eps = 1e-12 * Math.max(1, Math.abs(value), Math.abs(recorded));
        const strict = c.op === '>' || c.op === '<';
        const pass = strict ? improvement > min + eps : improvement >= min - eps;
        champion = { value: recorded, required, pass };
        if (!pass) {
          const better = dir > 0 ? 'higher' : 'lower';
          reasons.push(
            min > 0
              ? `${fmt(value)} does not beat champion ${opts.champion.label} (${fmt(recorded)}) by ${fmt(min)}: needs ${c.op} ${fmt(required)}`
              : `${fmt(value)} is not ${strict ? `${better} than` : `as good as`} champion ${opts.champion.label} (${fmt(recorded)})`,
          );
        }
      }
    }
    const pass = thresholdPass && (champion?.pass ?? true);
    return { condition: c, value, thresholdPass, ...(champion ? { champion } : {}), pass, verdict: pass ? 'pass' : `FAIL: ${reasons.join('; ')}` };
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
