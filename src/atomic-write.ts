import { renameSync, writeFileSync, unlinkSync } from 'node:fs';
import { rename, writeFile, unlink } from 'node:fs/promises';

/** Unique sibling temp name: same folder, so the rename is atomic (same filesystem). */
function tempNameFor(file: string): string {
  return `${file}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
}

/** Readers see either the old content or the new one, never a torn file. */
export function writeFileAtomicSync(file: string, content: string): void {
  const temp = tempNameFor(file);
  try {
    writeFileSync(temp, content);
    renameSync(temp, file);
  } catch (error) {
    try { unlinkSync(temp); } catch { /* temp never created */ }
    throw error;
  }
}

export async function writeFileAtomic(file: string, content: string): Promise<void> {
  const temp = tempNameFor(file);
  try {
    await writeFile(temp, content);
    await rename(temp, file);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  }
}
