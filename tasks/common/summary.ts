/**
 * Markdown run summaries, attached to the run with ##vso[task.uploadsummary].
 * Pure string building; the agent adapter writes and attaches the file.
 */

/** Escape a cell so user-supplied text cannot break the table or inject markup. */
export function cell(value: unknown): string {
  const s = value === undefined || value === null || value === '' ? '–' : String(value);
  return s.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/</g, '&lt;').replace(/\r?\n/g, '<br>');
}

export function table(headers: string[], rows: unknown[][]): string {
  const head = `| ${headers.map(cell).join(' | ')} |`;
  const sep = `| ${headers.map(() => '---').join(' | ')} |`;
  const body = rows.map((r) => `| ${r.map(cell).join(' | ')} |`);
  return [head, sep, ...body].join('\n');
}

export function link(text: string, url: string | undefined): string {
  return url ? `[${text.replace(/[[\]]/g, '')}](${url})` : text;
}

/** A summary document: a title, then sections in order. */
export class Summary {
  private readonly parts: string[] = [];
  constructor(readonly title: string) {}
  heading(text: string): this {
    this.parts.push(`### ${text}`);
    return this;
  }
  para(text: string): this {
    this.parts.push(text);
    return this;
  }
  table(headers: string[], rows: unknown[][]): this {
    this.parts.push(table(headers, rows));
    return this;
  }
  bullets(items: string[]): this {
    this.parts.push(items.map((i) => `- ${i}`).join('\n'));
    return this;
  }
  toMarkdown(): string {
    return [`## ${this.title}`, ...this.parts].join('\n\n') + '\n';
  }
}
