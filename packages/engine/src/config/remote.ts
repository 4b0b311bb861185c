/**
 * The `remote:` block of pipeline.yaml and what overrides it: `--no-remote`,
 * `--remote URL`, then the PIPELINE_REMOTE environment variable, then `url`.
 * The schema checks the shape; this checks the URL (scheme, not empty) at its
 * line and column. Nothing here is fingerprinted.
 */
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { diagnostic, type Diagnostic } from '../errors.ts';
import type { YamlSource } from './yaml-source.ts';

/** Where the remote is and how to talk to it: what `remote:` in pipeline.yaml, `--remote` and PIPELINE_REMOTE resolve to. */
export interface RemoteSettings {
  /** `http(s)://…` or an absolute folder path (a `file://` URL or a plain path, resolved). */
  url: string;
  readOnly: boolean;
  /** Name of the environment variable holding a bearer token (never the token itself). */
  tokenEnv?: string;
  /** Seconds without any progress (connecting, or between two chunks) before a request is given up. */
  timeoutSeconds: number;
}

export const DEFAULT_REMOTE_TIMEOUT_SECONDS = 30;

/** Is this a URL or path the remote accepts? The reason when not. */
export function remoteUrlProblem(url: string): string | undefined {
  if (/^https?:\/\/[^/\s]+/.test(url)) return undefined;
  if (url.startsWith('file://')) return url.length > 'file://'.length ? undefined : 'a file:// URL needs a folder path';
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url))
    return `unsupported scheme "${url.split(':')[0]}": use http://, https://, file:// or a folder path`;
  return url.trim() === '' ? 'the URL is empty' : undefined;
}

/** A folder path stays a path (resolved from `root`); http(s) stays a URL. */
export function normaliseRemoteUrl(url: string, root: string): string {
  if (/^https?:\/\//.test(url)) return url.replace(/\/+$/, '');
  const path = url.startsWith('file://') ? fileURLToPath(url) : url;
  return isAbsolute(path) ? path : resolve(root, path);
}

export interface RemoteConfig {
  /** As written (a folder path not yet resolved). */
  url?: string;
  readOnly: boolean;
  tokenEnv?: string;
  timeoutSeconds: number;
}

export function remoteConfig(
  raw: Record<string, unknown>,
  source: YamlSource,
  diagnostics: Diagnostic[],
): RemoteConfig {
  const config: RemoteConfig = { readOnly: raw.read_only === true, timeoutSeconds: DEFAULT_REMOTE_TIMEOUT_SECONDS };
  if (typeof raw.url === 'string') {
    const problem = remoteUrlProblem(raw.url);
    if (problem)
      diagnostics.push(
        diagnostic(
          'schema',
          `"remote.url" ${problem}`,
          source.spanOfValue(['remote', 'url']),
          'e.g. http://cache.example:8080/pipeline, file:///shared/pipeline-cache or ../shared-cache',
        ),
      );
    else config.url = raw.url;
  }
  if (typeof raw.token_env === 'string') config.tokenEnv = raw.token_env;
  if (typeof raw.timeout_seconds === 'number') config.timeoutSeconds = raw.timeout_seconds;
  return config;
}

export interface RemoteOverrides {
  /** `--no-remote`. */
  off?: boolean;
  /** `--remote URL`. */
  url?: string;
  /** PIPELINE_REMOTE (empty counts as unset). */
  env?: string;
}

export type RemoteResolution = { ok: true; settings?: RemoteSettings; from?: string } | { ok: false; message: string };

/** The remote a command uses, if any; `root` resolves a relative folder path. */
export function resolveRemote(
  config: RemoteConfig | undefined,
  overrides: RemoteOverrides,
  root: string,
): RemoteResolution {
  if (overrides.off) return { ok: true };
  const [url, from] =
    overrides.url !== undefined
      ? [overrides.url, '--remote']
      : overrides.env
        ? [overrides.env, 'PIPELINE_REMOTE']
        : [config?.url, 'remote.url in pipeline.yaml'];
  if (url === undefined) return { ok: true };
  const problem = remoteUrlProblem(url);
  if (problem) return { ok: false, message: `${from}: ${problem}` };
  return {
    ok: true,
    from,
    settings: {
      url: normaliseRemoteUrl(url, root),
      readOnly: config?.readOnly ?? false,
      ...(config?.tokenEnv ? { tokenEnv: config.tokenEnv } : {}),
      timeoutSeconds: config?.timeoutSeconds ?? DEFAULT_REMOTE_TIMEOUT_SECONDS,
    },
  };
}
