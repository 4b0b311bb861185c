/**
 * build-model: load the ImageNet backbone, cut it at `model.cut_layer`, freeze
 * it, put the GAP → Dropout → Dense head on top (Dense(1, sigmoid) for two
 * classes, Dense(N, softmax) for N, from split's classes.json) and save:
 *   outs[0] backbone/  the frozen base alone (model.json + weights.bin), its ONNX
 *                      export (backbone.onnx) when every layer exports, info.json;
 *                      with runtime.precision int8 also the calibrated QDQ model
 *                      (backbone.int8.onnx, calibration.json), see docs/int8.md
 *   outs[1] model/     the untrained full model (base + head)
 * The base gets its own folder so `features` depends on it alone: a head-only
 * change (model.dropout) rewrites model/ but leaves backbone/ byte-identical,
 * and the expensive features stage stays up to date.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { defineStage } from 'pipeline-ml-engine';
import { inputSizeOf, isUrl, loadBackbone } from './lib/inference/backbone.ts';
import { setupBackend, threadCount } from './lib/inference/backend.ts';
import { attachHead } from './lib/model/head.ts';
import { CLASSES_FILE, headUnits, readClassList } from './lib/data/class-list.ts';
import { saveModel } from './lib/model/model-io.ts';
import { buildOnnxModel } from './lib/inference/onnx/export.ts';
import { encodeModel, type OnnxModel } from './lib/inference/onnx/protobuf.ts';
import type { Int8Info } from './lib/inference/int8-backbone.ts';
import { readImageList } from './lib/data/dataset.ts';
import { BACKBONE_INFO, BACKBONE_ONNX, type BackboneInfo, parsePreprocess } from './lib/inference/inference.ts';
import { readParams } from './lib/stage/params.ts';
import { CALIBRATION_METHODS, PRECISION_CHOICES } from './lib/stage/shared-params.ts';
import rules from './build-model.params.ts';
import { findInDeps, outFolders } from './lib/stage/stage-files.ts';

export default defineStage({
  async run(ctx) {
    const [backboneDir, modelDir] = await outFolders(ctx, [
      'artifacts/build-model/backbone',
      'artifacts/build-model/model',
    ]);
    const p = readParams(ctx, rules);
    await setupBackend(p, ctx.log, ctx.warn);
    const source = p.string('model.backbone');
    // Unset: keep the whole backbone / take its input size.
    const cutLayer = p.isSet('model.cut_layer') ? p.string('model.cut_layer') : undefined;
    const wanted = p.isSet('model.input_size') ? p.integer('model.input_size') : undefined;
    const preprocess = p.parse('model.preprocess', parsePreprocess);
    const dropout = p.number('model.dropout');
    const classes = await readClassList(await findInDeps(ctx.deps, CLASSES_FILE, 'split'));
    const precision = p.oneOf('runtime.precision', PRECISION_CHOICES);

    const resolved = isUrl(source) ? source : path.resolve(ctx.root, source);
    ctx.progress({ done: 0, total: 3, message: 'loading backbone' });
    const backbone = await loadBackbone(resolved, {
      cutLayer,
      cacheDir: path.join(ctx.cacheDir, 'backbones'),
      ...(ctx.remote ? { remote: ctx.remote } : {}),
    });
    const inputSize = inputSizeOf(backbone);
    if (wanted !== undefined && wanted !== inputSize) {
      throw new Error(
        `model.input_size is ${wanted} but the backbone ${source} takes ${inputSize}×${inputSize} images`,
      );
    }
    const [, mapHeight, mapWidth, featureDim] = backbone.outputs[0].shape as number[];
    const cut = backbone.outputs[0].sourceLayer?.name ?? cutLayer ?? '';
    ctx.log(
      `backbone ${source} cut at ${cut}: input ${inputSize}×${inputSize}, maps ${mapHeight}×${mapWidth}×${featureDim}`,
    );

    ctx.progress({ done: 1, total: 3, message: 'exporting ONNX' });
    let onnx: BackboneInfo['onnx'];
    let fp32: OnnxModel | undefined;
    const started = Date.now();
    try {
      fp32 = buildOnnxModel(backbone).model;
      const bytes = encodeModel(fp32);
      await writeFile(path.join(backboneDir, BACKBONE_ONNX), bytes);
      onnx = { exported: true, file: BACKBONE_ONNX, bytes: bytes.byteLength };
      ctx.log(
        `ONNX export: ${BACKBONE_ONNX} (${(bytes.byteLength / 2 ** 20).toFixed(1)} MiB) in ${((Date.now() - started) / 1000).toFixed(1)} s`,
      );
    } catch (err) {
      // Any export failure (unsupported layer or otherwise) only costs speed: TF.js runs the base instead.
      const reason = err instanceof Error ? err.message : String(err);
      ctx.warn(`ONNX export failed, features/predict/visualize will run the base on TF.js: ${reason}`);
      onnx = { exported: false, reason };
    }
    let int8: Int8Info | undefined;
    if (precision === 'int8') {
      if (!fp32 || !onnx.exported)
        throw new Error(
          `runtime.precision is int8, which runs on onnxruntime, but the ONNX export failed: ${onnx.exported ? '' : onnx.reason}`,
        );
      ctx.progress({ done: 1, total: 3, message: 'calibrating int8' });
      const trainList = await readImageList(await findInDeps(ctx.deps, 'train.csv', 'split'), ctx.root, classes);
      const options = {
        method: p.oneOf('quantize.method', CALIBRATION_METHODS),
        images: p.integer('quantize.images'),
        seed: p.integer('quantize.seed'),
      };
      const { writeInt8Backbone } = await import('./lib/inference/int8-backbone.ts'); // loads onnxruntime: int8 only
      int8 = await writeInt8Backbone(
        fp32,
        trainList,
        backboneDir,
        { ...options, threads: threadCount(p.value('runtime.threads')), inputSize, preprocess, root: ctx.root },
        ctx.log,
      );
    }

    ctx.progress({ done: 2, total: 3, message: 'saving models' });
    await saveModel(backbone, backboneDir);
    const full = attachHead(backbone, dropout, 0, headUnits(classes));
    await saveModel(full, modelDir);

    const trainable = full.trainableWeights.reduce((n, w) => n + w.shape.reduce<number>((a, b) => a * (b ?? 1), 1), 0);
    // info.json must be byte-identical for identical inputs (no timings, no backend): features depends on this folder.
    const info: BackboneInfo = {
      backbone: source,
      cutLayer: cut,
      inputSize,
      preprocess,
      featureDim,
      mapHeight,
      mapWidth,
      params: {
        base: backbone.countParams(),
        head: full.countParams() - backbone.countParams(),
        trainable,
        total: full.countParams(),
      },
      onnx,
      ...(int8 ? { int8 } : {}),
      tfjs: tf.version.tfjs,
    };
    await writeFile(path.join(backboneDir, BACKBONE_INFO), JSON.stringify(info, null, 2) + '\n');
    ctx.log(
      `params: base ${info.params.base.toLocaleString('en')} (frozen), head ${info.params.head.toLocaleString('en')} (trainable)`,
    );
    full.dispose();
    ctx.progress({ done: 3, total: 3 });
  },
});
