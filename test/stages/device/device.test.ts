/**
 * runtime.device on real onnxruntime providers: WebGPU through Dawn on Mesa's software
 * Vulkan driver (lavapipe, installed by scripts/install-vulkan.sh; CI runs it before
 * the tests), against the CPU provider. Each WebGPU case runs in a child process, since
 * Dawn reads the Vulkan environment once per process.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { CUDA_PROVIDER_LIBRARY, onnxruntimeBinFolder } from '../../../stages/lib/inference/device.ts';
import {
  CPU_BATCH_SIZE,
  GPU_BATCH_SIZE,
  openBackboneRunner,
  parseBatchSize,
} from '../../../stages/lib/inference/inference.ts';
import { lavapipe } from '../../machine.ts';
import { runtimeParams } from '../inference/runtime-params.ts';
import { buildBackbone, SHARED } from '../model/backbone-fixture.ts';
import { HUNG_AFTER_MS } from '../../failsafe.ts';

const PHOTOS = ['cat.2.jpg', 'dog.2.jpg', 'cat.3.jpg'].map((f) => path.join(SHARED, 'datasets/dogs-vs-cats/train', f));
const CHILD = path.join(import.meta.dirname, 'open-backbone.ts');
/** Relative to the feature scale, as the ONNX-vs-TF.js checks (test/onnx/helpers.ts); see docs/guide/gpu.md, "Results agree with the CPU's". */
const RELATIVE_TOLERANCE = 5e-4;

let root: string;
let backboneDir: string;

before(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'device-'));
  backboneDir = await buildBackbone(root, 'mobilenet_v2_0.35_224_tm');
});
after(() => rm(root, { recursive: true, force: true }));

interface ChildResult {
  error?: string;
  engine?: string;
  device?: string;
  batchSize?: number;
  logs: string[];
  warnings: string[];
  pooled?: number[];
}

function openInChild(device: string, env: NodeJS.ProcessEnv = {}, photos = PHOTOS): ChildResult {
  const r = spawnSync(process.execPath, ['--import', 'tsx', CHILD, backboneDir, device, ...photos], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: HUNG_AFTER_MS,
  });
  const line = r.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .pop();
  assert.ok(line, `child printed no result (status ${r.status}): ${r.stderr.slice(-2000)}`);
  return JSON.parse(line) as ChildResult;
}

const software = lavapipe();

test(
  "webgpu on the software adapter returns the CPU provider's features, says it is a software adapter",
  { skip: software.skip },
  (t) => {
    const lavapipe = software.icd!;
    // Only lavapipe visible, and no XDG_RUNTIME_DIR: the runner makes a private one for Dawn.
    const env = { VK_DRIVER_FILES: lavapipe, VK_ICD_FILENAMES: lavapipe, XDG_RUNTIME_DIR: '' };
    const gpu = openInChild('webgpu', env);
    assert.equal(gpu.error, undefined);
    const cpu = openInChild('cpu');
    assert.equal(gpu.engine, 'onnx-webgpu');
    assert.equal(cpu.engine, 'onnx');
    assert.equal(gpu.batchSize, CPU_BATCH_SIZE, 'a software adapter runs on the CPU cores: the CPU batch size');
    assert.equal(gpu.warnings.length, 1);
    assert.match(gpu.warnings[0], /webgpu on a software adapter, .*(llvmpipe|lvp)/);
    const scale = Math.max(...cpu.pooled!.map(Math.abs));
    const diff = Math.max(...gpu.pooled!.map((v, i) => Math.abs(v - cpu.pooled![i])));
    assert.ok(scale > 0, 'all-zero features would prove nothing');
    assert.equal(gpu.pooled!.length, cpu.pooled!.length);
    assert.ok(
      diff <= RELATIVE_TOLERANCE * scale,
      `max |webgpu − cpu| ${diff} exceeds ${RELATIVE_TOLERANCE} × scale ${scale}`,
    );
    t.diagnostic(
      `max |webgpu − cpu| ${diff.toExponential(2)} at feature scale ${scale.toFixed(3)}; ${gpu.warnings[0]}`,
    );
  },
);

test(
  'auto never takes the software adapter for a GPU: it runs on the CPU and says why',
  { skip: software.skip },
  () => {
    const lavapipe = software.icd!;
    const r = openInChild('auto', { VK_DRIVER_FILES: lavapipe, VK_ICD_FILENAMES: lavapipe }, PHOTOS.slice(0, 1));
    assert.equal(r.error, undefined);
    assert.equal(r.engine, 'onnx');
    assert.equal(r.batchSize, CPU_BATCH_SIZE);
    const line = r.logs.find((l) => l.startsWith('backbone device:'));
    assert.match(line ?? '', /^backbone device: cpu \(auto: .*(llvmpipe|lvp).* is a software adapter, not a GPU\)/);
  },
);

test('webgpu with no Vulkan driver visible is an error naming the missing ICD, not a CPU run', () => {
  const none = path.join(root, 'no-such-icd.json');
  const r = openInChild('webgpu', { VK_DRIVER_FILES: none, VK_ICD_FILENAMES: none }, PHOTOS.slice(0, 1));
  assert.equal(r.engine, undefined);
  assert.match(
    r.error ?? '',
    /^runtime\.device is webgpu but onnxruntime found no WebGPU adapter: no Vulkan driver \(ICD\): VK_DRIVER_FILES\/VK_ICD_FILENAMES names .*no-such-icd\.json/,
  );
});

test("cuda without onnxruntime's CUDA add-on is an error that says how to install it", async (t) => {
  if (existsSync(path.join(onnxruntimeBinFolder(), CUDA_PROVIDER_LIBRARY)))
    return t.skip('the CUDA add-on is installed here');
  const logger = { log: () => {}, warn: () => {} };
  await assert.rejects(
    openBackboneRunner(
      backboneDir,
      runtimeParams({ 'runtime.inference': 'auto', 'runtime.device': 'cuda', 'runtime.threads': 0 }),
      logger,
    ),
    /runtime\.device is cuda but onnxruntime's CUDA add-on is not installed .*--onnxruntime-node-install=cuda12/,
  );
});

test('a GPU device never falls back to TF.js; bad runtime.device and runtime.batch_size values are named', async () => {
  const logger = { log: () => {}, warn: () => {} };
  await assert.rejects(
    openBackboneRunner(backboneDir, runtimeParams({ 'runtime.inference': 'tfjs', 'runtime.device': 'webgpu' }), logger),
    /runtime\.device is webgpu, which runs onnxruntime, but runtime\.inference is tfjs/,
  );
  await assert.rejects(
    openBackboneRunner(backboneDir, runtimeParams({ 'runtime.device': 'gpu' }), logger),
    /runtime\.device must be one of auto, cpu, webgpu, cuda; got 'gpu'/,
  );
  await assert.rejects(
    openBackboneRunner(backboneDir, runtimeParams({ 'runtime.batch_size': 0 }), logger),
    /runtime\.batch_size must be auto or an integer ≥ 1, got 0/,
  );
});

test('runtime.batch_size auto: 16 on the CPU and on a software adapter, 128 on a GPU; a number wins', () => {
  assert.equal(parseBatchSize('auto', 'cpu', false), CPU_BATCH_SIZE);
  assert.equal(parseBatchSize(undefined, 'webgpu', true), CPU_BATCH_SIZE);
  assert.equal(parseBatchSize('auto', 'webgpu', false), GPU_BATCH_SIZE);
  assert.equal(parseBatchSize(null, 'cuda', false), GPU_BATCH_SIZE);
  assert.equal(parseBatchSize(32, 'webgpu', false), 32);
  assert.equal(parseBatchSize('8', 'cpu', false), 8);
  assert.throws(
    () => parseBatchSize('big', 'cpu', false),
    /runtime\.batch_size must be auto or an integer ≥ 1, got "big"/,
  );
});
