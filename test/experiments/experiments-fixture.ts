/**
 * The experiments fixture: prep (cmd) → train (cmd, writes metrics.json and
 * history.csv from its params). Stages count their invocations in a file
 * outside the project ($COUNTS), so a sweep's "workspace left as it was" can be
 * checked byte for byte.
 */
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { Project } from '../engine/project-fixture.ts';

export const PIPELINE = `params:
  prep:
    n: 3
  train: { lr: 0.1, batch_size: 16 }   # the head's hyperparameters
  other: keep   # not used by any stage
stages:
  prep:
    cmd: echo prep >> "$COUNTS" && mkdir -p out && seq 1 \${params.prep.n} > out/prep.txt
    outs: [out/prep.txt]
  train:
    cmd: echo train >> "$COUNTS" && sh train.sh \${params.train.lr} \${params.train.batch_size} out/train
    deps: [out/prep.txt, train.sh]
    outs: [out/train]
    metrics: [out/train/metrics.json]
    plots: [out/train/history.csv]
`;

// loss = lr·10/batch_size, acc = 1 − lr; "boom" fails. With $TOGETHER set (ExperimentProject.together), each
// train waits until that many have started: they can only finish if the engine runs them at the same time.
const TRAIN = `#!/bin/sh
set -e
[ "$1" = boom ] && { echo "learning rate exploded" >&2; exit 3; }
if [ -n "$TOGETHER" ]; then
  touch "$TOGETHER_DIR/$$"
  while [ "$(ls "$TOGETHER_DIR" | wc -l)" -lt "$TOGETHER" ]; do sleep 0.05; done
fi
mkdir -p "$3"
awk -v lr="$1" -v bs="$2" 'BEGIN { printf "{\\"loss\\": %.6f, \\"acc\\": %.4f, \\"optimizer\\": \\"sgd\\"}\\n", lr*10/bs, 1-lr }' > "$3/metrics.json"
awk -v lr="$1" 'BEGIN { print "epoch,loss,val_loss"; for (e = 1; e <= 5; e++) printf "%d,%.4f,%.4f\\n", e, 1/(e*lr*10+1), 1.1/(e*lr*10+1) }' > "$3/history.csv"
`;

export class ExperimentProject extends Project {
  readonly countsFile: string;

  constructor() {
    super({ 'pipeline.yaml': PIPELINE, 'train.sh': TRAIN });
    this.countsFile = join(mkdtempSync(join(tmpdir(), 'pipeline-counts-')), 'counts.txt');
  }

  /** How many train invocations must run at once before any of them goes on (unset: none wait). */
  together?: number;

  override start(args: string[]) {
    const previous = process.env.COUNTS;
    process.env.COUNTS = this.countsFile;
    const together: Record<string, string> = this.together
      ? { TOGETHER: String(this.together), TOGETHER_DIR: mkdtempSync(join(dirname(this.countsFile), 'together-')) }
      : {};
    try {
      return super.start(args, together);
    } finally {
      if (previous === undefined) delete process.env.COUNTS;
      else process.env.COUNTS = previous;
    }
  }

  invocations(): Record<string, number> {
    const counts: Record<string, number> = {};
    let text: string;
    try {
      text = readFileSync(this.countsFile, 'utf8');
    } catch {
      return counts;
    }
    for (const name of text.split('\n').filter(Boolean)) counts[name] = (counts[name] ?? 0) + 1;
    return counts;
  }

  /** Every file outside .pipeline/ with its bytes and mode: what "left as it was" compares. */
  snapshot(): Record<string, string> {
    const files: Record<string, string> = {};
    const walk = (dir: string): void => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        const rel = relative(this.dir, path);
        if (rel === '.pipeline') continue;
        const stats = statSync(path);
        if (stats.isDirectory()) walk(path);
        else files[rel] = `${stats.mode.toString(8)} ${readFileSync(path, 'base64')}`;
      }
    };
    walk(this.dir);
    return files;
  }

  runRecords(): Array<Record<string, any>> {
    const folder = this.path('.pipeline/runs');
    return readdirSync(folder)
      .sort()
      .map((name) => JSON.parse(readFileSync(join(folder, name), 'utf8')));
  }
}

/** A new fixture project per call, all removed by the suite's `after` hook. */
export function freshProjects(after: (fn: () => void) => void): () => ExperimentProject {
  const projects: ExperimentProject[] = [];
  after(() => projects.forEach((p) => p.remove()));
  return () => {
    const project = new ExperimentProject();
    projects.push(project);
    return project;
  };
}
