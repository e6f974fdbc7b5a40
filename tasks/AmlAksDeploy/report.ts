/**
 * The rollout's report: a timeline row per step (what traffic, which checks, the result) and the
 * run summary built from them, published again whenever the outcome changes.
 */
import { Summary, link } from '../common/summary';
import { msg } from './messages';

export interface TimelineRow {
  step: string;
  traffic: string;
  checks: string;
  result: string;
}

export interface ReportContext {
  endpoint: string;
  deployment: string;
  model: { name: string; version: string };
  /** A registry model: where it came from. */
  modelFrom?: string;
  computeName: string;
  studioUrl: string;
  /** The endpoint's scoring URI once it exists. */
  scoringUri: () => string;
  /** Writes the summary (AgentIo.summary in the task). */
  publish: (name: string, markdown: string) => void;
}

export class RolloutReport {
  readonly timeline: TimelineRow[] = [];

  constructor(private readonly c: ReportContext) {}

  row(step: string, traffic: string, checks: string, result: string): void {
    this.timeline.push({ step, traffic, checks, result });
  }

  /** The summary as things stand, with `extra` bullets (problems, what to do). */
  publish(title: string, extra: string[] = []): void {
    const { c } = this;
    const uri = c.scoringUri();
    const s = new Summary(`${c.endpoint}: ${title}`);
    s.para(
      [
        c.modelFrom
          ? msg('SummaryModelFrom', c.model.name, c.model.version, c.modelFrom, c.deployment)
          : msg('SummaryModel', c.model.name, c.model.version, c.deployment),
        msg('SummaryCompute', c.computeName),
        link(msg('SummaryStudioLink'), c.studioUrl),
        uri ? msg('SummaryScoringUri', uri) : '',
      ]
        .filter(Boolean)
        .join(' · '),
    );
    s.table(
      [msg('SummaryColumnStep'), msg('SummaryColumnTraffic'), msg('SummaryColumnChecks'), msg('SummaryColumnResult')],
      this.timeline.map((r) => [r.step, r.traffic, r.checks, r.result]),
    );
    if (extra.length) s.bullets(extra);
    c.publish('aml-aks-deploy', s.toMarkdown());
  }
}
