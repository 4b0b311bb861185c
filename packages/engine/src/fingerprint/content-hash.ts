import { createHash } from 'node:crypto';
import { closeSync, createReadStream, openSync, readSync } from 'node:fs';
import { readFile } from 'node:fs/promises';

/** Files up to this size are read in one call; bigger ones are streamed to bound memory. */
const WHOLE_READ_LIMIT = 8 * 1024 * 1024;

export function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** sha256 of a file's bytes. `size` (from a stat the caller already did) picks read vs stream. */
export async function hashFileContent(absPath: string, size: number): Promise<string> {
  if (size <= WHOLE_READ_LIMIT) return sha256(await readFile(absPath));
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(absPath, { highWaterMark: 1024 * 1024 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** The same, synchronously, in 1 MiB chunks (a manifest asked for through a getter cannot wait). */
export function hashFileContentSync(absPath: string): string {
  const hash = createHash('sha256');
  const fd = openSync(absPath, 'r');
  try {
    const chunk = Buffer.allocUnsafe(1024 * 1024);
    for (let read; (read = readSync(fd, chunk, 0, chunk.length, null)) > 0;) hash.update(chunk.subarray(0, read));
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}
