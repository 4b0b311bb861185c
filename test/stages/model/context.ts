/** A hand-made StageContext for calling `stage.run(ctx)` directly in tests and scripts. */
import path from 'node:path';
import type { Progress, RunFigures, StageContext } from 'pipeline-ml-engine';

export interface RecordedContext extends StageContext {
  logs: string[];
  warnings: string[];
  progressReports: Progress[];
  /** What the stage passed to ctx.report, merged. */
  figures: RunFigures;
}

export function makeContext(opts: {
  stage: string;
  root: string;
  params: Record<string, unknown>;
  deps?: string[];
  outs: string[];
  echo?: boolean;
}): RecordedContext {
  const logs: string[] = [];
  const warnings: string[] = [];
  const progressReports: Progress[] = [];
  const figures: RunFigures = {};
  const abs = (p: string) => path.resolve(opts.root, p);
  return {
    stage: opts.stage,
    root: opts.root,
    params: opts.params,
    deps: (opts.deps ?? []).map(abs),
    outs: opts.outs.map(abs),
    cacheDir: abs(path.join('.pipeline', 'stage-cache', opts.stage)),
    logs,
    warnings,
    progressReports,
    figures,
    progress(p) {
      progressReports.push(p);
    },
    log(m) {
      logs.push(m);
      if (opts.echo) console.log(`[${opts.stage}] ${m}`);
    },
    warn(m) {
      warnings.push(m);
      if (opts.echo) console.warn(`[${opts.stage}] WARN ${m}`);
    },
    report(f) {
      Object.assign(figures, f);
    },
  };
}
