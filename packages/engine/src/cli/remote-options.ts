/**
 * `--remote URL` and `--no-remote`, shared by the commands that use the remote
 * cache (run, status, sweep, push, pull), and the one place that opens it.
 */
import { RemoteRunCache } from '../cache/remote-run-cache.ts';
import { isCleartextRemote, RemoteStore } from '../cache/remote-store.ts';
import { resolveRemote } from '../config/remote.ts';
import type { Pipeline } from '../config/pipeline.ts';
import type { ProjectSession } from '../execution/project-session.ts';

export const remoteOptions = {
  remote: { type: 'string' },
  'no-remote': { type: 'boolean' },
} as const;

export const remoteOptionsHelp = `  --remote <url>      use this remote cache (http(s)://…, file:///folder or a
                      folder path) instead of remote.url in pipeline.yaml and
                      PIPELINE_REMOTE
  --no-remote         use no remote cache this time`;

type Values = Record<string, string | boolean | Array<string | boolean> | undefined>;

/** Sets `workspace.remote` from the options, PIPELINE_REMOTE and pipeline.yaml; false (after printing why) on a bad URL. */
export function attachRemote(session: ProjectSession, values: Values): boolean {
  const store = openRemoteStore(session.pipeline, values);
  if (store === false) return false;
  if (store) session.workspace.remote = new RemoteRunCache(store, session.workspace.runCache);
  return true;
}

/** The remote the options, PIPELINE_REMOTE and pipeline.yaml name (undefined: none); false (after printing why) on a bad URL. */
export function openRemoteStore(pipeline: Pipeline, values: Values): RemoteStore | undefined | false {
  const resolved = resolveRemote(
    pipeline.remote,
    {
      off: values['no-remote'] === true,
      ...(typeof values.remote === 'string' ? { url: values.remote } : {}),
      env: process.env.PIPELINE_REMOTE,
    },
    pipeline.root,
  );
  if (!resolved.ok) {
    process.stderr.write(`error: ${resolved.message}\n`);
    return false;
  }
  if (!resolved.settings) return undefined;
  const warn = (message: string): void => void process.stderr.write(`warning: ${message}\n`);
  const store = new RemoteStore(resolved.settings, warn);
  if (isCleartextRemote(resolved.settings.url))
    warn(
      `remote cache ${store.label} is plain http to another machine: the token and the cached files travel unencrypted; use https`,
    );
  const { tokenEnv } = resolved.settings;
  if (tokenEnv && !process.env[tokenEnv])
    warn(`remote.token_env names ${tokenEnv}, which is not set: talking to ${store.label} without a token`);
  return store;
}
