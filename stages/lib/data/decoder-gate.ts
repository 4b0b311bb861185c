/**
 * libvips keeps one error buffer per process, and sharp reads and clears it
 * after every failed operation. When two decodes fail at once, one can report
 * "Unknown error" (the other cleared the buffer) or the other file's words
 * ("dog.9007.jpg is not a known file format"). The failure itself is real;
 * only its reason is unreliable.
 *
 * Decodes run `shared` (many at once). A decode that failed is tried again
 * `alone`: new decodes wait, the ones in flight finish, and the retry's
 * message is then its own. Bad files are rare, so the pause costs little.
 */
export class DecoderGate {
  private inFlight = 0;
  private drained: (() => void)[] = [];
  private solo: Promise<void> | null = null;

  async shared<T>(work: () => Promise<T>): Promise<T> {
    while (this.solo) await this.solo;
    this.inFlight++;
    try {
      return await work();
    } finally {
      this.inFlight--;
      if (this.inFlight === 0) for (const wake of this.drained.splice(0)) wake();
    }
  }

  async alone<T>(work: () => Promise<T>): Promise<T> {
    while (this.solo) await this.solo;
    let release!: () => void;
    this.solo = new Promise<void>((resolve) => (release = resolve));
    try {
      if (this.inFlight > 0) await new Promise<void>((wake) => this.drained.push(wake));
      return await work();
    } finally {
      this.solo = null;
      release();
    }
  }
}
