/**
 * Admission control for running stages: at most `jobs` at once, and never
 * two heavy stages together. Waiters are served in request order, skipping a
 * heavy waiter (only) while another heavy stage runs.
 */
export class JobSlots {
  private running = 0;
  private heavyRunning = false;
  private readonly waiting: { heavy: boolean; grant(): void }[] = [];

  constructor(private readonly jobs: number) {}

  acquire(heavy: boolean): Promise<() => void> {
    return new Promise((resolve) => {
      this.waiting.push({ heavy, grant: () => resolve(() => this.release(heavy)) });
      this.dispatch();
    });
  }

  private release(heavy: boolean): void {
    this.running--;
    if (heavy) this.heavyRunning = false;
    this.dispatch();
  }

  private dispatch(): void {
    for (let i = 0; i < this.waiting.length && this.running < this.jobs;) {
      const waiter = this.waiting[i];
      if (waiter.heavy && this.heavyRunning) {
        i++;
        continue;
      }
      this.waiting.splice(i, 1);
      this.running++;
      if (waiter.heavy) this.heavyRunning = true;
      waiter.grant();
    }
  }
}
