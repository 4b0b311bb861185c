/**
 * The feature store shared through the remote cache (`ctx.remote`): entries
 * travel packed, never one request per image. A pack is a feature-store
 * segment (same bytes format, its own per-entry checksums) of up to
 * PACK_ROWS entries, stored as a blob under its sha256; a catalog, one per
 * backbone-and-input (the namespace every key of a run shares), lists the
 * packs and the keys each holds. A run downloads only the packs holding keys
 * it lacks, and afterwards uploads, as new packs, the entries it used that
 * the catalog did not list (computed here, or earlier without a remote), then
 * the catalog with them added.
 *
 * The catalog is re-read just before it is written, so two machines finishing
 * at once lose at most the other's latest packs from the listing (their
 * entries are then computed again somewhere; never wrong, only slower).
 */
import type { RemoteBlobs } from 'pipeline-ml-engine';
import type { FeatureCache } from './feature-cache.ts';
import { sha256 } from './feature-cache.ts';

/** Entries per pack: 8,192 rows of 2,048 floats is 64 MB, one request. */
const PACK_ROWS = 8192;
/** Packs downloaded at once. */
const CONCURRENCY = 4;
const FORMAT = 'feature-store/v1';

interface CatalogPack {
  sha256: string;
  keys: string[];
}

interface Catalog {
  packs: CatalogPack[];
}

export interface RemoteFill {
  /** Entries now local that were missing. */
  entries: number;
  packs: number;
  bytes: number;
}

export class RemoteFeatureStore {
  private listed = new Set<string>();
  /** Packs the catalog lists that could not be used (gone or damaged): dropped from it at the next upload. */
  private readonly broken = new Set<string>();
  private readonly name: string;

  /** `namespace`: what every key of this store's rows shares (backbone identity, input, row size). */
  constructor(
    private readonly remote: RemoteBlobs,
    namespace: string,
  ) {
    this.name = `${FORMAT}/${sha256(namespace)}`;
  }

  private async catalog(): Promise<Catalog> {
    const bytes = await this.remote.get(this.name);
    if (!bytes) return { packs: [] };
    try {
      const parsed = JSON.parse(Buffer.from(bytes).toString('utf8')) as Catalog;
      return Array.isArray(parsed?.packs)
        ? { packs: parsed.packs.filter((p) => typeof p?.sha256 === 'string' && Array.isArray(p.keys)) }
        : { packs: [] };
    } catch {
      return { packs: [] };
    }
  }

  /** Downloads the packs holding any of `missing` into the store (fewest packs first covering most). */
  async fill(store: FeatureCache, missing: ReadonlySet<string>): Promise<RemoteFill> {
    const catalog = await this.catalog();
    for (const pack of catalog.packs) for (const key of pack.keys) this.listed.add(key);
    const wanted = new Set([...missing].filter((key) => this.listed.has(key)));
    const chosen: CatalogPack[] = [];
    // Greedy cover: the pack holding the most still-wanted keys first.
    const candidates = catalog.packs
      .map((pack) => ({ pack, keys: pack.keys.filter((key) => wanted.has(key)) }))
      .filter((c) => c.keys.length > 0);
    const covered = new Set<string>();
    while (covered.size < wanted.size) {
      let best: (typeof candidates)[number] | undefined;
      let gain = 0;
      for (const c of candidates) {
        const g = c.keys.reduce((n, key) => n + (covered.has(key) ? 0 : 1), 0);
        if (g > gain) [best, gain] = [c, g];
      }
      if (!best) break;
      chosen.push(best.pack);
      for (const key of best.keys) covered.add(key);
    }
    const result: RemoteFill = { entries: 0, packs: 0, bytes: 0 };
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < chosen.length) {
        const pack = chosen[next++];
        const bytes = await this.remote.getBlob(pack.sha256);
        if (
          !bytes ||
          !store.install(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), pack.sha256, 'the remote cache')
        ) {
          // Missing or damaged (warned): its entries are computed here and shared again.
          this.broken.add(pack.sha256);
          for (const key of pack.keys) this.listed.delete(key);
          continue;
        }
        result.packs++;
        result.bytes += bytes.byteLength;
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    result.entries = [...wanted].filter((key) => store.has(key)).length;
    return result;
  }

  /** Uploads the entries of `used` the catalog does not list, as packs, then the catalog. Packs uploaded. */
  async share(store: FeatureCache, used: readonly string[], what: (key: string) => string): Promise<number> {
    if (!this.remote.writable) return 0;
    const fresh = [...new Set(used)].filter((key) => !this.listed.has(key) && store.has(key));
    if (fresh.length === 0) return 0;
    const added: CatalogPack[] = [];
    for (let start = 0; start < fresh.length; start += PACK_ROWS) {
      const { segment, keys } = store.pack(fresh.slice(start, start + PACK_ROWS), what);
      if (keys.length === 0) continue;
      const hash = await this.remote.putBlob(segment);
      if (!hash) return added.length; // the remote refused or failed (warned); what is listed stays consistent
      added.push({ sha256: hash, keys });
    }
    if (added.length === 0) return 0;
    const latest = await this.catalog();
    const known = new Set(latest.packs.map((p) => p.sha256));
    const packs = [
      ...latest.packs.filter((p) => !this.broken.has(p.sha256)),
      ...added.filter((p) => !known.has(p.sha256)),
    ];
    if (!(await this.remote.put(this.name, Buffer.from(JSON.stringify({ packs } satisfies Catalog))))) return 0;
    for (const pack of added) for (const key of pack.keys) this.listed.add(key);
    return added.length;
  }
}
