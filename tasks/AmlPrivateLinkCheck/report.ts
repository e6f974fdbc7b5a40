/** The check's log lines, run summary and JSON report. */
import { Summary } from '../common/summary';
import { msg } from './messages';
import { capabilityText, scopeLabel, type AccessAudit } from './access';
import type { NameResult, Verdict } from './classify';
import type { PostureCheck } from './posture';

export interface Report {
  ok: boolean;
  workspace?: string;
  dnsServers: string[];
  allowedRanges: string[];
  names: NameResult[];
  posture: PostureCheck[];
  access?: AccessAudit;
  notes: string[];
}

export function logLine(n: NameResult): string {
  const answer = n.answer.length ? n.answer.join(',') : '-';
  const chain = n.cnames.length ? msg('ViaCnames', n.cnames.join(' -> ')) : '';
  const expected = n.expected.length ? msg('LogExpected', n.expected.join(',')) : '';
  const head = `${n.verdict.padEnd(12)} ${n.fqdn} -> ${answer}${chain}${expected}${n.via === 'hosts' ? msg('LogHostsFile') : ''}`;
  return n.advice ? `${head}\n             ${n.advice}` : head;
}

/** "3 of 12 names failed: 1 PUBLIC, 1 STALE, 1 NOT_FOUND" */
export function failureLine(names: NameResult[], posture: PostureCheck[]): string {
  const bad = names.filter((n) => n.verdict !== 'OK');
  const counts = new Map<Verdict, number>();
  for (const n of bad) counts.set(n.verdict, (counts.get(n.verdict) ?? 0) + 1);
  const parts: string[] = [];
  if (bad.length) parts.push(msg('NamesFailed', bad.length, names.length, [...counts].map(([v, c]) => `${c} ${v}`).join(', ')));
  const pf = posture.filter((p) => p.status === 'FAIL');
  const checks = pf.map((p) => p.check).join('; ');
  if (pf.length === 1) parts.push(msg('PostureCheckFailed', pf.length, checks));
  else if (pf.length) parts.push(msg('PostureChecksFailed', pf.length, checks));
  return parts.join('; ');
}

const ICON: Record<string, string> = { OK: '✅ OK', PASS: '✅ PASS', WARN: '⚠️ WARN', UNKNOWN: '❔ UNKNOWN', FAIL: '❌ FAIL' };

function summaryTitle(r: Report): string {
  if (r.workspace) return r.ok ? msg('SummaryTitleWorkspacePassed', r.workspace) : msg('SummaryTitleWorkspaceFailed', r.workspace);
  return r.ok ? msg('SummaryTitlePassed') : msg('SummaryTitleFailed');
}

export function summaryMarkdown(r: Report): string {
  const s = new Summary(summaryTitle(r));
  const good = r.names.filter((n) => n.verdict === 'OK').length;
  const allowed = r.allowedRanges.join(', ');
  s.para(
    r.dnsServers.length
      ? msg('SummaryResolvedWithServers', good, r.names.length, r.dnsServers.join(', '), allowed)
      : msg('SummaryResolvedWithAgentResolver', good, r.names.length, allowed),
  );
  s.table(
    [msg('ColumnName'), msg('ColumnAnswer'), msg('ColumnExpected'), msg('ColumnCnameChain'), msg('ColumnVerdict')],
    r.names.map((n) => {
      const answer = n.answer.join(', ') || '–';
      return [
        n.fqdn,
        n.via === 'hosts' ? msg('AnswerFromHosts', answer) : answer,
        n.expected.join(', '),
        n.cnames.join(' → '),
        ICON[n.verdict] ?? `❌ ${n.verdict}`,
      ];
    }),
  );
  const advice = r.names.filter((n) => n.advice);
  if (advice.length) {
    s.heading(msg('HeadingWhatToFix'));
    s.bullets(advice.map((n) => `**${n.fqdn}** (${n.verdict}): ${n.advice}`));
  }
  if (r.posture.length) {
    s.heading(msg('HeadingIsolationPosture'));
    s.table(
      [msg('ColumnCheck'), msg('ColumnStatus'), msg('ColumnDetail'), msg('ColumnFix')],
      r.posture.map((p) => [p.check, ICON[p.status], p.detail, p.fix ? `\`${p.fix}\`` : '']),
    );
  }
  if (r.access) accessSection(s, r.access);
  if (r.notes.length) {
    s.heading(msg('HeadingNotes'));
    s.bullets(r.notes);
  }
  return s.toMarkdown();
}

/** Who can write besides the pipeline: every write grant, the findings first, then the exempt ones. */
function accessSection(s: Summary, a: AccessAudit): void {
  s.heading(msg('HeadingAccess'));
  s.para(a.writers.length ? msg('AccessWritersFound', a.writers.length, a.assignmentsRead) : msg('AccessNoWriters', a.assignmentsRead));
  const row = (g: AccessAudit['writers'][number], who: string): string[] => [
    g.principalType,
    `\`${g.principalId}\``,
    g.role,
    scopeLabel(g.scope, a.workspaceId),
    g.inherited ? msg('Yes') : msg('No'),
    capabilityText(g.capabilities),
    who,
  ];
  const rows = [
    ...a.writers.map((g) => row(g, ICON.FAIL!)),
    ...a.own.map((g) => row(g, msg('AccessThisPipeline'))),
    ...a.exempt.map((g) => row(g, g.reason)),
  ];
  if (rows.length)
    s.table(
      [
        msg('ColumnPrincipalType'),
        msg('ColumnObjectId'),
        msg('ColumnRole'),
        msg('ColumnScope'),
        msg('ColumnInherited'),
        msg('ColumnCan'),
        msg('ColumnVerdictOrReason'),
      ],
      rows,
    );
}
