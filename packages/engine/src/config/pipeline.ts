/**
 * The resolved pipeline: what the config phase hands to the graph, fingerprint
 * and execution phases. Everything here is plain data, already validated and
 * interpolated; later phases never look at YAML again.
 */
import type { ParamRules } from '../param-rules.ts';
import type { Dep } from './dep.ts';
import type { Diagnostic, SourceSpan } from '../errors.ts';
import type { RemoteConfig } from './remote.ts';

export interface ResolvedStage {
  name: string;
  desc?: string;
  /** Exactly one of `module` (project-relative path of a TS stage module) or `cmd` is set. */
  module?: string;
  cmd?: string;
  /** `cmd` as written, before `${params…}` interpolation (tells a param change from a command edit). */
  cmdTemplate?: string;
  /** Deps classified (path, glob, URL); `written` is relative to the project root (`../shared/x` stays relative, so the lock is portable). Globs unexpanded. */
  deps: Dep[];
  /** Outs as written after interpolation, project-relative. */
  outs: string[];
  /** JSON metric files, each inside one of `outs` (project-relative). Not part of the fingerprint. */
  metrics: string[];
  /** CSV series (training curves), each inside one of `outs`. Not part of the fingerprint. */
  plots: string[];
  /** Every param the stage uses: declared keys plus interpolated ones, dotted name → value. Sorted by key. */
  params: Record<string, unknown>;
  /** The keys of its `params:` list as written, found in pipeline.yaml or not. */
  listedParams: string[];
  /** Run even when up to date. */
  alwaysRun: boolean;
  /** Whether outs go to the run cache. */
  cache: boolean;
  /** Heavy stages never run beside another heavy stage. */
  heavy: boolean;
  /** The rules a module stage declares for the params it reads (its `<module>.params.ts`), when it has them. */
  declaredParams?: { file: string; rules: ParamRules };
  /** What the stage's cluster job asks for; not part of the fingerprint. */
  resources: StageResources;
  /** Shard jobs of a module stage (1 = not sharded); not part of the fingerprint (merged outs equal unsharded ones). */
  shards: number;
  /** Where each field came from, for diagnostics raised after loading (missing deps, duplicate outs…). */
  spans: {
    stage: SourceSpan;
    deps: SourceSpan[];
    outs: SourceSpan[];
    /** The `params:` list, when written. */
    params?: SourceSpan;
  };
}

export interface Pipeline {
  /** Absolute path of pipeline.yaml. */
  file: string;
  /** Absolute path of the folder holding it; every relative path resolves from here. */
  root: string;
  /** The whole params tree after `--set` overrides. */
  params: Record<string, unknown>;
  /** Stages in declaration order. */
  stages: Map<string, ResolvedStage>;
  /** The top-level `executor:` block (absent: run locally). */
  executor?: ExecutorConfig;
  /** The `sweeps:` block: named grids for `pipeline sweep <name>`, in declaration order. */
  sweeps: Map<string, SweepDeclaration>;
  /** The `remote:` block (docs/remote-cache.md); `--remote`, `--no-remote` and PIPELINE_REMOTE override it. */
  remote?: RemoteConfig;
}

/** One entry of the `sweeps:` block. */
export interface SweepDeclaration {
  name: string;
  description?: string;
  /** Dotted param key → the values to try, each as YAML text (what `--set key=…` takes). */
  set: Array<[string, string[]]>;
  metric?: string;
  maximize: boolean;
  jobs?: number;
  /** Why it cannot run (unknown params, a value listed twice, one variant): warnings when loading, errors for `pipeline sweep`. */
  problems: Diagnostic[];
}

/** A job's cluster resources, as sbatch takes them (`mem`, `time` in Slurm's own notation). */
export interface StageResources {
  cpus?: number;
  mem?: string;
  time?: string;
  gpus?: number;
}

export interface ExecutorConfig {
  type: 'local' | 'slurm';
  partition?: string;
  account?: string;
  /** Seconds between two squeue queries. */
  pollSeconds?: number;
  /** Defaults under every stage's own `resources`. */
  resources: StageResources;
}
