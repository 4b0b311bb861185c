#!/usr/bin/env bash
# Runs the Dogs-vs-Cats job of two git refs on the same small real subset of
# ../shared (the smallest backbone, a few epochs) and compares the outs that
# must not change between them, byte for byte: the split lists, the features,
# train's metrics and history (less the wall-clock fields), the submission and
# the test metrics. For a change that must leave the two-class job as it was
# (issue 22: classes from the data).
#
#   scripts/compare-two-class-outs.sh [BASE_REF] [NEW_REF]   (default: main HEAD)
#
# Each ref is exported with `git archive` into a temp folder (nothing of the
# checkout is touched), runs with this checkout's node_modules, and is removed.
# Exit 0 when every compared file is identical, 1 otherwise.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
BASE=${1:-main}
NEW=${2:-HEAD}
SHARED=$(cd "$REPO/../shared" && pwd)
TRAIN=$SHARED/datasets/dogs-vs-cats/train
TEST=$SHARED/datasets/dogs-vs-cats/test
BACKBONE=$SHARED/models/mobilenet_v1_0.25_224
PER_CLASS=${PER_CLASS:-40}
TEST_IMAGES=${TEST_IMAGES:-40}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/compare-two-class-XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# The data, once, as links to the shared photos: the first PER_CLASS cats and dogs by number, the first TEST_IMAGES test ids.
mkdir -p "$WORK/data/train" "$WORK/data/test"
for kind in cat dog; do
  ls "$TRAIN" | grep "^$kind\." | sort -t. -k2,2n | sed -n "1,${PER_CLASS}p" | while read -r f; do ln -s "$TRAIN/$f" "$WORK/data/train/$f"; done
done
ls "$TEST" | sort -n | sed -n "1,${TEST_IMAGES}p" | while read -r f; do ln -s "$TEST/$f" "$WORK/data/test/$f"; done
{
  head -n 1 "$SHARED/datasets/dogs-vs-cats/test_labels.csv"
  for f in "$WORK"/data/test/*; do id=$(basename "$f" .jpg); grep "^$id," "$SHARED/datasets/dogs-vs-cats/test_labels.csv"; done
} > "$WORK/data/test_labels.csv"

run_ref() {
  local ref=$1 dir=$2
  mkdir -p "$dir"
  git -C "$REPO" archive "$ref" | tar -x -C "$dir"
  ln -s "$REPO/node_modules" "$dir/node_modules"
  ln -s "$WORK/data" "$dir/data"
  (cd "$dir" && CI=1 nice -n 10 node "$( [ -f packages/engine/bin/pipeline.js ] && echo packages/engine/bin/pipeline.js || echo bin/pipeline.js )" run \
    --set data.train_dir=data/train --set data.test_dir=data/test --set data.test_labels=data/test_labels.csv \
    --set data.val_fraction=0.25 --set data.seed=1 --set augment.copies=1 --set augment.seed=1 \
    --set model.backbone="$BACKBONE" --set model.cut_layer=conv_pw_13_relu --set model.input_size=224 \
    --set runtime.batch_size=8 --set train.epochs=4 --set train.batch_size=16 --set train.seed=1 \
    --set visualize.per_class=2 > "$dir.log" 2>&1) || { echo "the job of $ref failed; its log:"; cat "$dir.log"; exit 2; }
}

echo "running $BASE and $NEW on $PER_CLASS cats + $PER_CLASS dogs, $TEST_IMAGES test images (mobilenet_v1_0.25_224)…"
run_ref "$BASE" "$WORK/base"
run_ref "$NEW" "$WORK/new"

# Wall-clock fields (seconds, imagesPerSecond) differ from run to run by nature: left out of the comparison.
strip_times() { sed -E '/"(seconds|imagesPerSecond)":/d' "$1" | sed -E 's/,?\s*$//'; }
status=0
compare() {
  local rel=$1 how=${2:-bytes} a="$WORK/base/artifacts/$1" b="$WORK/new/artifacts/$1"
  if [ "$how" = bytes ]; then
    cmp -s "$a" "$b" && echo "identical   $rel" || { echo "DIFFERENT   $rel"; cmp "$a" "$b" || true; status=1; }
  elif [ "$how" = json ]; then
    diff -q <(strip_times "$a") <(strip_times "$b") > /dev/null && echo "identical   $rel (less wall-clock fields)" || { echo "DIFFERENT   $rel"; diff <(strip_times "$a") <(strip_times "$b") || true; status=1; }
  else # history.csv: epoch, loss, accuracy, val_loss, val_accuracy (a seconds column after them, where there is one, is left out)
    diff -q <(cut -d, -f1-5 "$a") <(cut -d, -f1-5 "$b") > /dev/null && echo "identical   $rel (its first five columns)" || { echo "DIFFERENT   $rel"; diff "$a" "$b" || true; status=1; }
  fi
}
for f in split/train.csv split/val.csv features/features.f32 features/index.csv test-features/features.f32 test-features/index.csv \
  build-model/model/weights.bin train/model/weights.bin predict/submission.csv predict/metrics.json predict/predictions.csv; do
  compare "$f"
done
compare train/metrics.json json
compare train/history.csv csv
exit $status
