/**
 * The process around the CLI (bin/pipeline.js calls it): runs `main` and sets
 * the exit code, the one place besides commands' output that touches the process.
 */
import { main } from './main.ts';

export async function start(argv: string[]): Promise<void> {
  // `pipeline params | head`: the reader went away; the output simply ends, without a stack trace.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw error;
    });
  }
  process.exitCode = await main(argv);
}
