/** An error's message, and its cause's message when it has one. */
export function errorText(error: unknown): string {
  if (error instanceof Error) {
    const cause = error.cause instanceof Error ? ` (${error.cause.message})` : '';
    return `${error.message}${cause}`;
  }
  return String(error);
}

/** An error's stack (or message), for the line that ends a run. */
export const errorStack = (error: unknown): string => (error instanceof Error ? (error.stack ?? error.message) : String(error));

/** At most `length` characters of `text`, with `…` when cut. */
export const clip = (text: string, length = 300): string => (text.length > length ? `${text.slice(0, length)}…` : text);

/** A figure for a table: `—` when there is none. */
export function fmt(value: number | null | undefined, digits = 0, unit = ''): string {
  return value === null || value === undefined || !Number.isFinite(value) ? '—' : `${value.toFixed(digits)}${unit}`;
}

/** A plain-text table, first column left-aligned, the rest right-aligned. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}
