import { syncCommand } from '../remote-sync.ts';

/** `pipeline pull [STAGE…]`: download the lock's runs from the remote cache (see ../remote-sync.ts). */
export default async function pull(argv: string[]): Promise<number> {
  return syncCommand('pull', argv);
}
