/** The check's log lines, run summary and JSON report. */
import { Summary } from '../common/summary';
import type { NameResult, Verdict } from './classify';
import type { PostureCheck } from './posture';

export interface Report {
  ok: boolean;
  workspace?: string;
  dnsServers: string[];
  allowedRanges: string[];
  names: NameResult[];
  posture: PostureCheck[];
  notes: string[];
}

export function logLine(n: NameResult): string {
  const answer = n.answer.length ? n.answer.join(',') : '-';
  const chain = n.cnames.length ? ` via ${n.cnames.join(' -> ')}` : '';
  const expected = n.expected.length ? ` expected ${n.expected.join(',')}` : '';
  const head = `${n.verdict.padEnd(12)} ${n.fqdn} -> ${answer}${chain}${expected}${n.via === 'hosts' ? ' (hosts file)' : ''}`;
  return n.advice ? `${head}\n             ${n.advice}` : head;
}

/** "3 of 12 names failed: 1 PUBLIC, 1 STALE, 1 NOT_FOUND" */
export function failureLine(names: NameResult[], posture: PostureCheck[]): string {
  const bad = names.filter((n) => n.verdict !== 'OK');
  const counts = new Map<Verdict, number>();
  for (const n of bad) counts.set(n.verdict, (counts.get(n.verdict) ?? 0) + 1);
  const parts: string[] = [];
  if (bad.length) parts.push(`${bad.length} of ${names.length} names failed: ${[...counts].map(([v, c]) => `${c} ${v}`).join(', ')}`);
  const pf = posture.filter((p) => p.status === 'FAIL');
  if (pf.length) parts.push(`${pf.length} posture check${pf.length > 1 ? 's' : ''} failed: ${pf.map((p) => p.check).join('; ')}`);
  return parts.join('; ');
}

const ICON: Record<string, string> = { OK: '✅ OK', PASS: '✅ PASS', WARN: '⚠️ WARN', UNKNOWN: '❔ UNKNOWN', FAIL: '❌ FAIL' };

export function summaryMarkdown(r: Report): string {
  const s = new Summary(`Private link check${r.workspace ? ` for ${r.workspace}` : ''}: ${r.ok ? 'passed' : 'FAILED'}`);
  const bad = r.names.filter((n) => n.verdict !== 'OK').length;
  s.para(
    `${r.names.length - bad} of ${r.names.length} names resolve to their private endpoints` +
      ` (resolver: ${r.dnsServers.length ? r.dnsServers.join(', ') : "the agent's own"}; allowed ranges: ${r.allowedRanges.join(', ')}).`,
  );
  s.table(
    ['Name', 'Answer', 'Expected', 'CNAME chain', 'Verdict'],
    r.names.map((n) => [n.fqdn, `${n.answer.join(', ') || '–'}${n.via === 'hosts' ? ' (hosts)' : ''}`, n.expected.join(', '), n.cnames.join(' → '), ICON[n.verdict] ?? `❌ ${n.verdict}`]),
  );
  const advice = r.names.filter((n) => n.advice);
  if (advice.length) {
    s.heading('What to fix');
    s.bullets(advice.map((n) => `**${n.fqdn}** (${n.verdict}): ${n.advice}`));
  }
  if (r.posture.length) {
    s.heading('Isolation posture');
    s.table(['Check', 'Status', 'Detail', 'Fix'], r.posture.map((p) => [p.check, ICON[p.status], p.detail, p.fix ? `\`${p.fix}\`` : '']));
  }
  if (r.notes.length) {
    s.heading('Notes');
    s.bullets(r.notes);
  }
  return s.toMarkdown();
}
