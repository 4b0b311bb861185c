/**
 * The `remote:` block of pipeline.yaml and what overrides it: `--no-remote`,
 * `--remote URL`, then the PIPELINE_REMOTE environment variable, then `url`.
 * The schema checks the shape; this checks the URL (scheme, not empty) at its
 * line and column. Nothing here is fingerprinted.
 */
import { diagnostic, type Diagnostic } from '../errors.ts';
import { DEFAULT_REMOTE_TIMEOUT_SECONDS, normaliseRemoteUrl, remoteUrlProblem, type RemoteSettings } from '../cache/remote-store.ts';
import type { YamlSource } from './yaml-source.ts';

export interface RemoteConfig {
  /** As written (a folder path not yet resolved). */
  url?: string;
  readOnly: boolean;
  tokenEnv?: string;
  timeoutSeconds: number;
}

export function remoteConfig(raw: Record<string, unknown>, source: YamlSource, diagnostics: Diagnostic[]): RemoteConfig {
  const config: RemoteConfig = { readOnly: raw.read_only === true, timeoutSeconds: DEFAULT_REMOTE_TIMEOUT_SECONDS };
  if (typeof raw.url === 'string') {
    const problem = remoteUrlProblem(raw.url);
    if (problem) diagnostics.push(diagnostic('schema', `"remote.url" ${problem}`, source.spanOfValue(['remote', 'url']), 'e.g. http://cache.example:8080/pipeline, file:///shared/pipeline-cache or ../shared-cache'));
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
export function resolveRemote(config: RemoteConfig | undefined, overrides: RemoteOverrides, root: string): RemoteResolution {
  if (overrides.off) return { ok: true };
  const [url, from] =
    overrides.url !== undefined ? [overrides.url, '--remote'] : overrides.env ? [overrides.env, 'PIPELINE_REMOTE'] : [config?.url, 'remote.url in pipeline.yaml'];
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
