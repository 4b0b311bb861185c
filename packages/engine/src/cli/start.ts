/**
 * The process around the CLI (bin/pipeline.js calls it): runs `main` and sets
 * the exit code, the one place besides commands' output that touches the process.
 */
import { main } from './main.ts';

export async function start(argv: string[]): Promise<void> {
  // bin/pipeline.js's shell line moved the CA bundle aside so Node would not parse it; stages get it back as it was.
  if (process.env.PIPELINE_NODE_EXTRA_CA_CERTS !== undefined) {
    process.env.NODE_EXTRA_CA_CERTS = process.env.PIPELINE_NODE_EXTRA_CA_CERTS;
    delete process.env.PIPELINE_NODE_EXTRA_CA_CERTS;
  }
  // `pipeline params | head`: the reader went away; the output simply ends, without a stack trace.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw error;
    });
  }
  process.exitCode = await main(argv);
}
