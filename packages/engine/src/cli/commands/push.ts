import { syncCommand } from '../remote-sync.ts';

/** `pipeline push [STAGE…]`: upload the lock's runs to the remote cache (see ../remote-sync.ts). */
export default async function push(argv: string[]): Promise<number> {
  return syncCommand('push', argv);
}
