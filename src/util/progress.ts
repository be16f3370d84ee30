// A one-line progress bar for an epoch, on stderr. Redrawn at most 10 times a second; when
// stderr is not a terminal (CI, pipes) it stays silent and only the per-epoch lines print.
export class ProgressBar {
  private last = 0;
  private readonly start = performance.now();
  private readonly tty: boolean;
  constructor(
    private readonly total: number,
    private readonly label: string,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {
    this.tty = Boolean(stream.isTTY) && !process.env.CI;
  }

  update(done: number, stats: Record<string, string>, images: number): void {
    if (!this.tty) return;
    const now = performance.now();
    if (done < this.total && now - this.last < 100) return;
    this.last = now;
    const secs = (now - this.start) / 1000;
    const width = 24;
    const filled = Math.round((width * done) / this.total);
    const bar = '='.repeat(Math.max(0, filled - 1)) + (filled ? '>' : '') + ' '.repeat(width - filled);
    const rate = images / Math.max(secs, 1e-9);
    const eta = done ? (secs * (this.total - done)) / done : 0;
    const parts = Object.entries(stats).map(([k, v]) => `${k} ${v}`);
    const line = `${this.label} [${bar}] ${done}/${this.total} ${parts.join(' ')} ${rate.toFixed(0)} img/s ETA ${formatSeconds(eta)}`;
    this.stream.write(`\r${line.slice(0, (this.stream.columns ?? 160) - 1)}\x1b[K`);
  }

  done(): void {
    if (this.tty) this.stream.write('\r\x1b[K');
  }
}

export function formatSeconds(s: number): string {
  if (s < 60) return `${s.toFixed(0)}s`;
  const m = Math.floor(s / 60);
  return m < 60
    ? `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s`
    : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}
