import type { RemoteRunCache } from '../cache/remote-run-cache.ts';
import { formatBytes } from '../cache/stage-caches.ts';

/** One line on what a run exchanged with the remote cache (nothing when it exchanged nothing). */
export function remoteSummary(remote: RemoteRunCache): string | undefined {
  const { downloaded, uploaded, store } = remote;
  if (downloaded.length === 0 && uploaded.length === 0) return undefined;
  const parts = [
    ...(downloaded.length > 0
      ? [`restored ${downloaded.join(', ')} from it (${formatBytes(store.traffic.bytesDown)} down)`]
      : []),
    ...(uploaded.length > 0 ? [`uploaded ${uploaded.join(', ')} (${formatBytes(store.traffic.bytesUp)} up)`] : []),
  ];
  return `remote cache ${store.label}: ${parts.join('; ')}`;
}
