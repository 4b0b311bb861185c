import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { outFolders } from '../../../stages/lib/stage/stage-files.ts';

test('outFolders creates the declared out folders and names what is missing', async () => {
  const root = await mkdtemp(path.join(tmpdir(), 'outs-'));
  try {
    const outs = [path.join(root, 'a'), path.join(root, 'b')];
    const dirs = await outFolders({ stage: 'build-model', outs }, ['artifacts/a', 'artifacts/b']);
    assert.deepEqual(dirs, outs);
    for (const dir of dirs) assert.ok((await stat(dir)).isDirectory());
    await assert.rejects(
      outFolders({ stage: 'train', outs: [] }, ['artifacts/train']),
      /stage train writes 1 out folder\(s\) \(artifacts\/train\); pipeline\.yaml declares 0/,
    );
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
