/**
 * `--remote URL` and `--no-remote`, shared by the commands that use the remote
 * cache (run, status, sweep, push, pull), and the one place that opens it.
 */
import { RemoteRunCache } from '../cache/remote-run-cache.ts';
import { isCleartextRemote, RemoteStore } from '../cache/remote-store.ts';
import { resolveRemote } from '../config/remote.ts';
import type { Pipeline } from '../config/pipeline.ts';
import { openProject, type ProjectSession } from '../execution/project-session.ts';
import { printDiagnostics } from './options.ts';

export const remoteOptions = {
  remote: { type: 'string' },
  'no-remote': { type: 'boolean' },
} as const;

export const remoteOptionsHelp = `  --remote <url>      use this remote cache (http(s)://…, file:///folder or a
                      folder path) instead of remote.url in pipeline.yaml and
                      PIPELINE_REMOTE
  --no-remote         use no remote cache this time`;

type Values = Record<string, string | boolean | Array<string | boolean> | undefined>;

/**
 * The project the options name, its warnings printed, with `workspace.remote` set from the options, PIPELINE_REMOTE
 * and pipeline.yaml: what run, status, push and pull start from. An exit code (after printing why) when the project
 * does not load (1) or the remote URL is bad (2).
 */
export async function openProjectWithRemote(options: {
  file: string;
  set: string[];
  positionals: string[];
  values: Values;
}): Promise<ProjectSession | number> {
  const opened = await openProject(options.file, options.set, options.positionals);
  if (!opened.ok) {
    printDiagnostics(opened.diagnostics);
    return 1;
  }
  const { session } = opened;
  printDiagnostics(session.warnings);
  const store = openRemoteStore(session.pipeline, options.values);
  if (store === false) return 2;
  if (store) session.workspace.remote = new RemoteRunCache(store, session.workspace.runCache);
  return session;
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
