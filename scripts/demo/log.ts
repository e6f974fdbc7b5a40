/**
 * A pipeline-style log on the terminal, shaped like the Azure DevOps run view: stage, job and step
 * headers, each task's own output (##vso commands removed, secrets masked as the agent masks them,
 * warnings and errors highlighted the way the agent renders ##[warning] and ##[error]), then the
 * step's result with its output variables and summary file.
 */
import { parseCommands } from '../../testkit/harness';
import type { Result } from './expr';

const useColor = (): boolean =>
  !process.env.NO_COLOR && (process.env.FORCE_COLOR ? process.env.FORCE_COLOR !== '0' : !!process.stdout.isTTY);

export class Log {
  readonly color: boolean;

  constructor(color = useColor()) {
    this.color = color;
  }

  private paint(code: string, s: string): string {
    return this.color ? `\x1b[${code}m${s}\x1b[0m` : s;
  }
  bold = (s: string) => this.paint('1', s);
  dim = (s: string) => this.paint('2', s);
  red = (s: string) => this.paint('31', s);
  green = (s: string) => this.paint('32', s);
  yellow = (s: string) => this.paint('33', s);
  blue = (s: string) => this.paint('34', s);
  cyan = (s: string) => this.paint('36', s);

  print(line = ''): void {
    process.stdout.write(`${line}\n`);
  }

  resultText(r: Result): string {
    switch (r) {
      case 'Succeeded':
        return this.green('✔ Succeeded');
      case 'SucceededWithIssues':
        return this.yellow('⚠ Succeeded with issues');
      case 'Failed':
        return this.red('✖ Failed');
      case 'Skipped':
        return this.dim('⊘ Skipped');
      case 'Canceled':
        return this.yellow('⊘ Canceled');
    }
  }

  /**
   * A task's stdout as the agent shows it: command lines removed (task.issue becomes a highlighted
   * ##[warning]/##[error] line), secrets masked.
   */
  taskOutput(stdout: string, secrets: string[], indent: string): void {
    const mask = (s: string) => secrets.filter((x) => x.length >= 4).reduce((t, x) => t.split(x).join('***'), s);
    for (const raw of stdout.split(/\r?\n/)) {
      if (!raw.trim()) continue;
      if (raw.includes('##vso[')) {
        const [c] = parseCommands(raw);
        if (!c) continue;
        if (c.name === 'task.issue' || c.name === 'task.logissue') {
          const type = c.props.type === 'error' ? 'error' : 'warning';
          const text = mask(c.message);
          for (const [i, l] of text.split('\n').entries())
            this.print(
              `${indent}${type === 'error' ? this.red(`${i ? '        ' : '##[error]'}${l}`) : this.yellow(`${i ? '          ' : '##[warning]'}${l}`)}`,
            );
        }
        continue;
      }
      const line = mask(raw);
      if (line.startsWith('##[warning]')) this.print(`${indent}${this.yellow(line)}`);
      else if (line.startsWith('##[error]')) this.print(`${indent}${this.red(line)}`);
      else if (line.startsWith('##[debug]')) continue;
      else if (line.startsWith('##[section]') || line.startsWith('##[command]')) this.print(`${indent}${this.cyan(line)}`);
      else this.print(`${indent}${line}`);
    }
  }
}
