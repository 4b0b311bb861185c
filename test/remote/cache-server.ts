/**
 * A real HTTP cache server for the remote-cache tests: nginx with WebDAV PUT on
 * a loopback port in a temp folder (scripts/cache-server.sh). Tests skip with
 * the reason when nginx is not installed (scripts/test-machine.sh installs it).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('../../scripts/cache-server.sh', import.meta.url));

/** Why the server cannot run here, or undefined when it can. */
export class CacheServer {
  readonly dir: string;
  readonly url: string;
  private running = true;

  private constructor(dir: string, url: string) {
    this.dir = dir;
    this.url = url;
  }

  /** `token`: every request must carry `Authorization: Bearer <token>`. */
  static start(token?: string): CacheServer {
    const dir = mkdtempSync(join(tmpdir(), 'pipeline-cache-server-'));
    const url = execFileSync('bash', [SCRIPT, 'start', dir], {
      encoding: 'utf8',
      env: { ...process.env, CACHE_SERVER_TOKEN: token ?? '' },
    }).trim();
    return new CacheServer(dir, url);
  }

  /** The files the server holds under `ac/` or `cas/`. */
  entries(space: 'ac' | 'cas'): string[] {
    return readdirSync(join(this.dir, 'data', space)).filter((name) => !name.startsWith('.'));
  }

  path(space: 'ac' | 'cas', name: string): string {
    return join(this.dir, 'data', space, name);
  }

  stop(): void {
    if (!this.running) return;
    execFileSync('bash', [SCRIPT, 'stop', this.dir]);
    this.running = false;
  }

  remove(): void {
    this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
