/**
 * Backbone forward pass on onnxruntime's CPU provider and on WebGPU (and CUDA when asked),
 * side by side in one run: images/s per backbone and batch size, and how far the GPU's
 * pooled features are from the CPU's.
 *
 *   npm run bench:device
 *   BENCH_MODELS=mobilenet_v1_0.25_224 BENCH_BATCHES=1,16,64,128 BENCH_DEVICES=cpu,webgpu,cuda npm run bench:device
 *
 * BENCH_CELL_SECONDS (default 60) bounds each (backbone, device, batch) cell: after one
 * warm-up pass (it compiles the shaders), passes repeat for at least 2 passes and 5 s while
 * the next one fits the budget; a batch whose warm-up plus one pass would exceed it,
 * estimated from the smaller batches, is skipped and shown as such. On a software adapter (lavapipe) Xception takes about
 * 30 s per image, so there only batch 1 fits.
 */
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadBackbone } from '../stages/lib/inference/backbone.ts';
import { listLabelledImages } from '../stages/lib/data/dataset.ts';
import { openOnDevice, parseDeviceChoice, takeInventory, type Device } from '../stages/lib/inference/device.ts';
import { decodeImage, toTensorInput, type Preprocess } from '../stages/lib/data/images.ts';
import { buildOnnxModel } from '../stages/lib/inference/onnx/export.ts';
import { encodeModel } from '../stages/lib/inference/onnx/protobuf.ts';
import { OnnxRunner } from '../stages/lib/inference/onnx/runner.ts';
import { cpuPeak } from './onnx-cpu-peak.ts';

const SHARED = path.resolve(import.meta.dirname, '../../shared');
const PREPROCESS: Record<string, Preprocess> = { darknet_tiny_224: 'unit' };
const CUT_LAYER: Record<string, string> = {
  xception_block13_299: 'add_12',
  'mobilenet_v1_0.25_224': 'conv_pw_13_relu',
  'mobilenet_v1_0.75_224': 'conv_pw_13_relu',
};

const list = (name: string, fallback: string) =>
  (process.env[name] || fallback)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
const models = list('BENCH_MODELS', 'mobilenet_v1_0.25_224,xception_block13_299');
const batches = list('BENCH_BATCHES', '1,16,64')
  .map(Number)
  .sort((a, b) => a - b);
const devices = list('BENCH_DEVICES', 'cpu,webgpu').map((d) => parseDeviceChoice(d)) as Device[];
const cellSeconds = Number(process.env.BENCH_CELL_SECONDS || 60);
const threads = os.availableParallelism();

const peak = cpuPeak();
console.log(
  `CPU: ${peak.cores} cores, ${peak.isa}, ${peak.clockGHz.toFixed(2)} GHz (${peak.clockSource}) → FP32 peak ${peak.peakGflops.toFixed(0)} GFLOP/s; ` +
    `${(os.totalmem() / 2 ** 30).toFixed(0)} GiB RAM`,
);
const inv = takeInventory();
console.log(
  `Vulkan: loader ${inv.loader ?? 'missing'}; ICDs ${inv.icds.map((i) => path.basename(i.file)).join(', ') || 'none'}; ` +
    `devices ${inv.adapters ? inv.adapters.map((a) => `${a.name} [${a.type}, ${a.driver}]`).join('; ') || 'none' : '(vulkaninfo not installed)'}; ` +
    `PCI display controllers ${inv.pciDisplays.map((d) => `${d.vendor} (${d.kernelDriver ?? 'no driver'})`).join(', ') || 'none'}`,
);

const photos = (await listLabelledImages(path.join(SHARED, 'datasets/dogs-vs-cats/train'))).slice(
  0,
  Math.max(...batches),
);

interface Cell {
  rate?: number; // images/s, forward pass
  passes?: number;
  skipped?: string;
}
const table: {
  model: string;
  gflop: number;
  batch: number;
  cells: Map<Device, Cell>;
  diff?: { max: number; scale: number };
}[] = [];

const seconds = async (fn: () => Promise<unknown>) => {
  const t0 = performance.now();
  await fn();
  return (performance.now() - t0) / 1000;
};

await tf.setBackend('cpu');
for (const folder of models) {
  const model = await loadBackbone(path.join(SHARED, 'models', folder), { cutLayer: CUT_LAYER[folder] });
  const size = model.inputs[0].shape[1]!;
  const exported = buildOnnxModel(model);
  const bytes = encodeModel(exported.model);
  model.dispose();
  const preprocess = PREPROCESS[folder] ?? 'tf';
  const inputs = new Map<number, Float32Array>();
  for (const batch of batches) {
    const pixels = await Promise.all(photos.slice(0, batch).map((p) => decodeImage(p.path, { size })));
    inputs.set(batch, toTensorInput(pixels, size, preprocess));
  }
  const rows = batches.map((batch) => ({
    model: folder,
    gflop: exported.flopsPerImage / 1e9,
    batch,
    cells: new Map<Device, Cell>(),
    diff: undefined as { max: number; scale: number } | undefined,
  }));
  table.push(...rows);
  const pooledOf = new Map<string, Float32Array>();

  for (const device of devices) {
    let runner: OnnxRunner;
    try {
      ({ value: runner } = await openOnDevice(
        device,
        (d) => OnnxRunner.open(bytes, { inputSize: size, threads, device: d }),
        { log: console.log, warn: (m) => console.log(`warning: ${m}`) },
      ));
    } catch (err) {
      for (const row of rows) row.cells.set(device, { skipped: (err as Error).message.slice(0, 120) });
      console.log(`${folder} ${device}: ${(err as Error).message}`);
      continue;
    }
    let perImage = 0; // seconds per image seen so far, to skip batches that cannot fit the budget
    for (const row of rows) {
      const input = inputs.get(row.batch)!;
      if (perImage > 0 && 2 * perImage * row.batch > cellSeconds) {
        row.cells.set(device, { skipped: `one pass ≈ ${(perImage * row.batch).toFixed(0)} s` });
        console.log(
          `${folder} ${device} batch ${row.batch}: skipped, one pass ≈ ${(perImage * row.batch).toFixed(0)} s > BENCH_CELL_SECONDS/2`,
        );
        continue;
      }
      let pooled: Float32Array | undefined;
      const warm = await seconds(async () => (pooled = (await runner.run(input, row.batch)).pooled));
      pooledOf.set(`${device}/${row.batch}`, pooled!);
      let passes = 0;
      let spent = 0;
      while (passes === 0 || ((passes < 2 || spent < 5) && spent + spent / passes <= cellSeconds - warm)) {
        spent += await seconds(() => runner.run(input, row.batch));
        passes++;
      }
      perImage = spent / passes / row.batch;
      row.cells.set(device, { rate: (passes * row.batch) / spent, passes });
      console.log(
        `${folder} ${device} batch ${row.batch}: ${((passes * row.batch) / spent).toFixed(2)} images/s (${passes} pass(es), warm-up ${warm.toFixed(1)} s)`,
      );
    }
    await runner.dispose();
  }
  // Agreement with the CPU provider on the same photos.
  for (const row of rows) {
    const cpu = pooledOf.get(`cpu/${row.batch}`);
    const other = devices
      .filter((d) => d !== 'cpu')
      .map((d) => pooledOf.get(`${d}/${row.batch}`))
      .find(Boolean);
    if (!cpu || !other) continue;
    let max = 0;
    let scale = 0;
    for (let i = 0; i < cpu.length; i++) {
      max = Math.max(max, Math.abs(cpu[i] - other[i]));
      scale = Math.max(scale, Math.abs(cpu[i]));
    }
    row.diff = { max, scale };
  }
}

const others = devices.filter((d) => d !== 'cpu');
const show = (c: Cell | undefined) =>
  !c ? '–' : c.rate !== undefined ? c.rate.toFixed(c.rate < 10 ? 2 : 1) : `skipped (${c.skipped})`;
console.log(
  `\n| backbone | GFLOP/img | batch | ${devices.map((d) => `${d} img/s`).join(' | ')} | ${others.map((d) => `${d} / cpu`).join(' | ')} | max abs diff pooled (scale) |`,
);
console.log(`|---|---|---|${devices.map(() => '---|').join('')}${others.map(() => '---|').join('')}---|`);
for (const row of table) {
  const cpu = row.cells.get('cpu')?.rate;
  const ratios = others.map((d) => {
    const r = row.cells.get(d)?.rate;
    return cpu && r ? `${(r / cpu).toFixed(r / cpu < 1 ? 3 : 1)}×` : '–';
  });
  const diff = row.diff ? `${row.diff.max.toExponential(2)} (${row.diff.scale.toFixed(2)})` : '–';
  console.log(
    `| ${row.model} | ${row.gflop.toFixed(3)} | ${row.batch} | ${devices.map((d) => show(row.cells.get(d))).join(' | ')} | ${ratios.join(' | ')} | ${diff} |`,
  );
}
