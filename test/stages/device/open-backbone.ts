/**
 * Child process for device.test.ts: opens build-model's backbone with the given
 * `runtime.device`, runs the photos through it and prints one JSON line. A child,
 * because Dawn reads the Vulkan env (VK_DRIVER_FILES, XDG_RUNTIME_DIR) once per process.
 *
 * usage: node --import tsx open-backbone.ts <backboneDir> <device> <photo>...
 */
import { decodeImage, toTensorInput } from '../../../stages/lib/data/images.ts';
import { openBackboneRunner, readBackboneInfo } from '../../../stages/lib/inference/inference.ts';
import { runtimeParams } from '../inference/runtime-params.ts';

const [backboneDir, device, ...photos] = process.argv.slice(2);
const logs: string[] = [];
const warnings: string[] = [];
try {
  const info = await readBackboneInfo(backboneDir);
  const params = {
    'runtime.inference': 'onnx',
    'runtime.device': device,
    'runtime.backend': 'cpu',
    'runtime.threads': 0,
  };
  const runner = await openBackboneRunner(backboneDir, runtimeParams(params), {
    log: (m) => logs.push(m),
    warn: (m) => warnings.push(m),
  });
  try {
    const pixels = await Promise.all(photos.map((f) => decodeImage(f, { size: info.inputSize })));
    const out = await runner.run(toTensorInput(pixels, info.inputSize, info.preprocess), pixels.length);
    const result = {
      engine: runner.engine,
      device: runner.device,
      batchSize: runner.batchSize,
      logs,
      warnings,
      pooled: Array.from(out.pooled),
    };
    console.log(JSON.stringify(result));
  } finally {
    await runner.dispose();
  }
} catch (err) {
  console.log(JSON.stringify({ error: (err as Error).message, logs, warnings }));
}
