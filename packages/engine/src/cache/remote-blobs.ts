/**
 * `ctx.remote` (src/contract.ts) on top of the remote store: blobs under their
 * sha256 in `cas/`, and names as small pointers in `ac/` (keyed by the
 * sha256 of the name, so any string is a valid name and names cannot collide
 * with run records, which are keyed by fingerprints).
 */
import { createHash } from 'node:crypto';
import type { RemoteBlobs } from '../contract.ts';
import type { RemoteStore } from './remote-store.ts';

interface NamePointer {
  sha256: string;
  size: number;
}

export class RemoteBlobStore implements RemoteBlobs {
  constructor(readonly store: RemoteStore) {}

  get writable(): boolean {
    return this.store.writable;
  }

  async putBlob(data: Uint8Array): Promise<string | undefined> {
    return this.store.putBlob(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  }

  async getBlob(hash: string): Promise<Uint8Array | undefined> {
    return this.store.getBlob(hash);
  }

  async put(name: string, data: Uint8Array): Promise<boolean> {
    const hash = await this.putBlob(data);
    if (!hash) return false;
    const pointer: NamePointer = { sha256: hash, size: data.byteLength };
    return this.store.putRecord(nameKey(name), Buffer.from(JSON.stringify(pointer)));
  }

  async get(name: string): Promise<Uint8Array | undefined> {
    const bytes = await this.store.getRecord(nameKey(name));
    if (!bytes) return undefined;
    let pointer: NamePointer;
    try {
      pointer = JSON.parse(bytes.toString('utf8')) as NamePointer;
    } catch {
      return undefined;
    }
    return typeof pointer?.sha256 === 'string'
      ? this.store.getBlob(pointer.sha256, `the blob named ${JSON.stringify(name)}`)
      : undefined;
  }
}

function nameKey(name: string): string {
  return createHash('sha256').update(`pipeline named blob v1\0${name}`).digest('hex');
}
