/**
 * Fetched backbones through the remote cache (`ctx.remote`): a URL's cache
 * folder (model.json and its weight files, as `localModelJson` lays it out)
 * travels as one blob per file plus a listing named after the URL, so a
 * second machine takes the files from the shared cache instead of the
 * internet. Every file is checked against its sha256 on the way in.
 */
import { readdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { RemoteBlobs } from 'pipeline-ml-engine';

type Listing = { files: [name: string, sha256: string][] };

const nameOf = (url: string) => `backbone-url/v1/${url}`;

/** Fills `dir` from the remote's copy of `url`'s files; false (dir untouched but for complete files) when there is none. */
export async function backboneFromRemote(remote: RemoteBlobs, url: string, dir: string): Promise<boolean> {
  const bytes = await remote.get(nameOf(url));
  if (!bytes) return false;
  let listing: Listing;
  try {
    listing = JSON.parse(Buffer.from(bytes).toString('utf8')) as Listing;
  } catch {
    return false;
  }
  if (!Array.isArray(listing?.files) || !listing.files.some(([name]) => name === 'model.json')) return false;
  if (listing.files.some(([name]) => typeof name !== 'string' || name !== path.basename(name) || name.startsWith('.')))
    return false;
  const files: [string, Uint8Array][] = [];
  // Every file is fetched even after one failed, so every damaged copy is found (and replaced by the download's upload).
  for (const [name, sha] of listing.files) {
    const data = await remote.getBlob(sha);
    if (data) files.push([name, data]);
  }
  if (files.length < listing.files.length) return false;
  // model.json last, as a download does: the folder counts as complete only once it is there.
  files.sort(([a], [b]) => Number(a === 'model.json') - Number(b === 'model.json'));
  for (const [name, data] of files) {
    const temp = path.join(dir, `${name}.${process.pid}.tmp`);
    await writeFile(temp, data);
    await rename(temp, path.join(dir, name));
  }
  return true;
}

/** Shares a complete cache folder of `url` with the remote (files, then the listing). */
export async function backboneToRemote(remote: RemoteBlobs, url: string, dir: string): Promise<void> {
  if (!remote.writable) return;
  const files: Listing['files'] = [];
  for (const name of (await readdir(dir)).sort()) {
    if (name.startsWith('.') || name.endsWith('.tmp')) continue;
    const hash = await remote.putBlob(await readFile(path.join(dir, name)));
    if (!hash) return;
    files.push([name, hash]);
  }
  await remote.put(nameOf(url), Buffer.from(JSON.stringify({ files } satisfies Listing)));
}
