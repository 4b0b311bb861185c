/**
 * The remote cache's transport: two key spaces, as Bazel's HTTP cache protocol
 * lays them out, on an HTTP server or a shared folder.
 *   <url>/ac/<key>      small records under a chosen key (run records, named-blob pointers)
 *   <url>/cas/<sha256>  content under its own sha256
 * GET and HEAD answer 404 for a miss; PUT stores full bytes (the server renames
 * them into place, so a cut upload is never an entry).
 *
 * The remote only ever saves time: a server that is down, too slow, answers
 * 5xx or refuses a request is warned about once and then left alone for the
 * rest of the process; every call then answers "miss" and local work goes on.
 * Downloaded content is checked against its sha256 before anyone sees it.
 * The bearer token is read from the environment variable the config names and
 * is never put into a message, a file or an error.
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  createReadStream,
  createWriteStream,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  copyFileSync,
} from 'node:fs';
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import type { RemoteSettings } from '../config/remote.ts';

/** Transfer counters, for logs and figures. */
export interface RemoteTraffic {
  requests: number;
  bytesDown: number;
  bytesUp: number;
}

export type RemoteWarn = (message: string) => void;

const SHA256 = /^[0-9a-f]{64}$/;

/** The URL as it may be shown: no user, no password. */
export function remoteLabel(url: string): string {
  return url.replace(/^(https?:\/\/)[^/@]*@/, '$1');
}

/** Plain http to a host other than this machine sends the token and the cached bytes in the clear. */
export function isCleartextRemote(url: string): boolean {
  const match = /^http:\/\/(?:[^/@]*@)?(\[[^\]]+\]|[^/:]+)/.exec(url);
  if (!match) return false;
  const host = match[1].toLowerCase();
  return !(host === 'localhost' || host === '[::1]' || /^127\./.test(host));
}

class RemoteFailure extends Error {
  constructor(
    message: string,
    /** The remote cannot be used at all (down, 5xx, timeout) versus only refusing writes. */
    readonly scope: 'all' | 'writes',
  ) {
    super(message);
  }
}

export class RemoteStore {
  readonly label: string;
  readonly traffic: RemoteTraffic = { requests: 0, bytesDown: 0, bytesUp: 0 };
  private down = false;
  private writesRefused = false;
  /** Content found damaged on the server: an upload of it replaces the server's copy instead of trusting it is there. */
  private readonly damaged = new Set<string>();
  private readonly http: boolean;
  private readonly authorization: string | undefined;

  constructor(
    readonly settings: RemoteSettings,
    private readonly warn: RemoteWarn,
  ) {
    this.http = /^https?:\/\//.test(settings.url);
    this.label = remoteLabel(settings.url);
    const token = settings.tokenEnv ? process.env[settings.tokenEnv] : undefined;
    this.authorization = token ? `Bearer ${token}` : undefined;
  }

  /** False once the remote failed: every later call is a miss without a request. */
  get usable(): boolean {
    return !this.down;
  }

  get writable(): boolean {
    return !this.down && !this.writesRefused && !this.settings.readOnly;
  }

  /** A run record or pointer under `key`; undefined on a miss or when the remote is unusable. */
  async getRecord(key: string): Promise<Buffer | undefined> {
    return this.guard(undefined, () => this.getBytes(`ac/${key}`));
  }

  async hasRecord(key: string): Promise<boolean> {
    return this.guard(false, () => this.exists(`ac/${key}`));
  }

  async putRecord(key: string, data: Buffer): Promise<boolean> {
    if (!this.writable) return false;
    return this.guard(false, async () => {
      await this.putBytes(`ac/${key}`, data);
      return true;
    });
  }

  /** Content by its sha256, checked; a mismatch is warned about (naming `what`) and answered as a miss. */
  async getBlob(hash: string, what = `object ${hash.slice(0, 12)}`): Promise<Buffer | undefined> {
    if (!SHA256.test(hash)) return undefined;
    const data = await this.guard(undefined, () => this.getBytes(`cas/${hash}`));
    if (data === undefined) return undefined;
    if (sha256(data) !== hash) {
      this.damaged.add(hash);
      this.warn(
        `remote cache ${this.label}: ${what} does not match its sha256 (damaged on the server); discarded, recomputing`,
      );
      return undefined;
    }
    return data;
  }

  /** Content by its sha256 into `destination` (temp file + rename), checked while streaming; false on a miss or mismatch. */
  async downloadBlob(hash: string, destination: string, what = `object ${hash.slice(0, 12)}`): Promise<boolean> {
    if (!SHA256.test(hash) || this.down) return false;
    const temp = `${destination}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
    mkdirSync(dirname(destination), { recursive: true });
    try {
      const got = await this.guard(undefined, () => this.streamTo(`cas/${hash}`, temp));
      if (got === undefined) return false;
      if (got !== hash) {
        this.damaged.add(hash);
        this.warn(
          `remote cache ${this.label}: ${what} does not match its sha256 (damaged on the server); discarded, recomputing`,
        );
        return false;
      }
      renameSync(temp, destination);
      return true;
    } finally {
      rmSync(temp, { force: true });
    }
  }

  async hasBlob(hash: string): Promise<boolean> {
    if (!SHA256.test(hash)) return false;
    return this.guard(false, () => this.exists(`cas/${hash}`));
  }

  /** Stores bytes under their sha256 (returned), unless the server has them already. */
  async putBlob(data: Buffer): Promise<string | undefined> {
    const hash = sha256(data);
    if (!this.writable) return undefined;
    return this.guard(undefined, async () => {
      if (this.damaged.has(hash) || !(await this.exists(`cas/${hash}`))) await this.putBytes(`cas/${hash}`, data);
      this.damaged.delete(hash);
      return hash;
    });
  }

  /** Uploads a file whose sha256 the caller knows, streaming, unless the server has it already. */
  async uploadFile(hash: string, path: string): Promise<boolean> {
    if (!this.writable || !SHA256.test(hash)) return false;
    return this.guard(false, async () => {
      if (!this.damaged.has(hash) && (await this.exists(`cas/${hash}`))) return true;
      await this.putFile(`cas/${hash}`, path);
      this.damaged.delete(hash);
      return true;
    });
  }

  /** Runs a request; a failure is turned into `fallback` after one warning. */
  private async guard<T>(fallback: T, request: () => Promise<T>): Promise<T> {
    if (this.down) return fallback;
    try {
      return await request();
    } catch (error) {
      const failure = error instanceof RemoteFailure ? error : new RemoteFailure(describeError(error), 'all');
      if (failure.scope === 'writes') {
        if (!this.writesRefused)
          this.warn(`remote cache ${this.label} refuses writes (${failure.message}); not uploading to it in this run`);
        this.writesRefused = true;
      } else if (!this.down) {
        this.down = true;
        this.warn(`remote cache ${this.label} is not usable (${failure.message}); carrying on without it`);
      }
      return fallback;
    }
  }

  // --- the two backends ---

  private async getBytes(path: string): Promise<Buffer | undefined> {
    this.traffic.requests++;
    if (!this.http) {
      try {
        const data = readFileSync(join(this.settings.url, path));
        this.traffic.bytesDown += data.length;
        return data;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw new RemoteFailure(describeError(error), 'all');
      }
    }
    const timer = new Stall(this.settings.timeoutSeconds);
    try {
      const response = await this.request('GET', path, undefined, timer);
      if (response.status === 404) return void (await response.body?.cancel());
      await this.check(response, 'GET');
      const chunks: Uint8Array[] = [];
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        timer.reset();
        chunks.push(chunk);
        this.traffic.bytesDown += chunk.length;
      }
      return Buffer.concat(chunks);
    } catch (error) {
      throw error instanceof RemoteFailure
        ? error
        : new RemoteFailure(
            timer.signal.aborted ? `no progress for ${this.settings.timeoutSeconds} s` : describeError(error),
            'all',
          );
    } finally {
      timer.clear();
    }
  }

  /** Streams `path` into `file`; the sha256 of what arrived, or undefined on a miss. */
  private async streamTo(path: string, file: string): Promise<string | undefined> {
    this.traffic.requests++;
    const hash = createHash('sha256');
    if (!this.http) {
      const source = join(this.settings.url, path);
      try {
        statSync(source);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw new RemoteFailure(describeError(error), 'all');
      }
      copyFileSync(source, file);
      const data = readFileSync(file);
      this.traffic.bytesDown += data.length;
      return hash.update(data).digest('hex');
    }
    const timer = new Stall(this.settings.timeoutSeconds);
    const response = await this.request('GET', path, undefined, timer);
    if (response.status === 404) return void (await response.body?.cancel());
    await this.check(response, 'GET');
    const out = createWriteStream(file);
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        timer.reset();
        hash.update(chunk);
        this.traffic.bytesDown += chunk.length;
        if (!out.write(chunk)) await once(out, 'drain');
      }
    } catch (error) {
      throw new RemoteFailure(
        timer.signal.aborted ? `no progress for ${this.settings.timeoutSeconds} s` : describeError(error),
        'all',
      );
    } finally {
      timer.clear();
      out.end();
      await once(out, 'close');
    }
    return hash.digest('hex');
  }

  private async exists(path: string): Promise<boolean> {
    this.traffic.requests++;
    if (!this.http) return statSync(join(this.settings.url, path), { throwIfNoEntry: false }) !== undefined;
    const response = await this.request('HEAD', path);
    if (response.status === 404) return false;
    await this.check(response, 'HEAD');
    return true;
  }

  private async putBytes(path: string, data: Buffer): Promise<void> {
    this.traffic.requests++;
    if (!this.http) return this.putLocal(path, (temp) => writeFileSync(temp, data), data.length);
    const response = await this.request('PUT', path, { body: data, length: data.length });
    await this.check(response, 'PUT');
    this.traffic.bytesUp += data.length;
  }

  private async putFile(path: string, file: string): Promise<void> {
    this.traffic.requests++;
    const size = statSync(file).size;
    if (!this.http) return this.putLocal(path, (temp) => copyFileSync(file, temp), size);
    const timer = new Stall(this.settings.timeoutSeconds);
    const stream = createReadStream(file);
    stream.on('data', () => timer.reset());
    const response = await this.request(
      'PUT',
      path,
      { body: Readable.toWeb(stream) as ReadableStream, length: size },
      timer,
    );
    await this.check(response, 'PUT');
    this.traffic.bytesUp += size;
  }

  /** A shared folder: temp name, then rename, so a reader never sees half a file. */
  private putLocal(path: string, write: (temp: string) => void, bytes: number): void {
    const target = join(this.settings.url, path);
    const temp = `${target}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
    try {
      mkdirSync(dirname(target), { recursive: true });
      write(temp);
      renameSync(temp, target);
      this.traffic.bytesUp += bytes;
    } catch (error) {
      rmSync(temp, { force: true });
      throw new RemoteFailure(describeError(error), 'writes');
    }
  }

  private async request(
    method: string,
    path: string,
    body?: { body: Buffer | ReadableStream; length: number },
    stall?: Stall,
  ): Promise<Response> {
    const timer = stall ?? new Stall(this.settings.timeoutSeconds);
    const headers: Record<string, string> = {};
    if (this.authorization) headers.authorization = this.authorization;
    if (body) {
      headers['content-length'] = String(body.length);
      headers['content-type'] = 'application/octet-stream';
    }
    try {
      return await fetch(`${this.settings.url}/${path}`, {
        method,
        headers,
        signal: timer.signal,
        ...(body ? { body: body.body, duplex: 'half' } : {}),
      } as RequestInit);
    } catch (error) {
      throw new RemoteFailure(
        timer.signal.aborted ? `no answer within ${this.settings.timeoutSeconds} s` : describeError(error),
        'all',
      );
    } finally {
      if (!stall) timer.clear();
    }
  }

  /** 2xx passes; a refused write disables writes only; anything else disables the remote. */
  private async check(response: Response, method: string): Promise<void> {
    if (response.ok) {
      if (method !== 'GET') await response.body?.cancel();
      return;
    }
    await response.body?.cancel();
    const what = `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''} to ${method}`;
    const refusedWrite = method === 'PUT' && response.status >= 400 && response.status < 500;
    throw new RemoteFailure(what, refusedWrite ? 'writes' : 'all');
  }
}

/** Aborts a request after `seconds` without progress; `reset` on each chunk. */
class Stall {
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout;
  constructor(private readonly seconds: number) {
    this.timer = this.arm();
  }
  get signal(): AbortSignal {
    return this.controller.signal;
  }
  reset(): void {
    clearTimeout(this.timer);
    this.timer = this.arm();
  }
  clear(): void {
    clearTimeout(this.timer);
  }
  private arm(): NodeJS.Timeout {
    const timer = setTimeout(() => this.controller.abort(), this.seconds * 1000);
    timer.unref();
    return timer;
  }
}

/** An error as one line, without anything from the request (headers carry the token). */
function describeError(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  if (cause?.code) return cause.code === 'ECONNREFUSED' ? 'connection refused' : cause.code;
  const code = (error as NodeJS.ErrnoException).code;
  if (code) return code;
  return error instanceof Error ? error.message.split('\n')[0] : String(error);
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** `items` through `work`, at most `limit` at once. */
export async function eachLimited<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await work(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
