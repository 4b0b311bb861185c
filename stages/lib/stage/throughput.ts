/** Done/total bookkeeping for long loops: rate and ETA for progress lines. */
export class Throughput {
  private readonly started = Date.now();
  done = 0;

  constructor(readonly total: number) {}

  add(n: number): void {
    this.done += n;
  }

  seconds(): number {
    return (Date.now() - this.started) / 1000;
  }

  /** Items per second so far. */
  rate(): number {
    const s = this.seconds();
    return s > 0 ? this.done / s : 0;
  }

  /** Seconds left at the current rate (Infinity before the first item). */
  eta(): number {
    const r = this.rate();
    return r > 0 ? (this.total - this.done) / r : Infinity;
  }

  /** `ETA 4m09s`: the engine already shows done/total, and the rate goes in the metrics. */
  etaMessage(): string {
    const eta = this.eta();
    return `ETA ${Number.isFinite(eta) ? formatSeconds(eta) : '?'}`;
  }
}

export function formatSeconds(s: number): string {
  if (s < 60) return `${Math.round(s)}s`;
  const m = Math.floor(s / 60);
  return `${m}m${String(Math.round(s - 60 * m)).padStart(2, '0')}s`;
}
