/**
 * Where onnxruntime runs the frozen backbone: `runtime.device: auto | cpu | webgpu | cuda`.
 *
 * - cpu: onnxruntime's CPU provider.
 * - webgpu: onnxruntime-node's bundled WebGPU provider (Dawn over Vulkan), on whatever adapter
 *   Dawn finds, a software one (Mesa's lavapipe) included, with a warning that it is one.
 *   No adapter is an error naming what is missing, never a silent CPU run.
 * - cuda: onnxruntime's CUDA add-on, which is not in the npm package (it is downloaded by
 *   `--onnxruntime-node-install=cuda12`); without it, an error saying how to install it.
 * - auto: CUDA when the add-on and an NVIDIA GPU are there, else WebGPU on a hardware adapter,
 *   else the CPU; one line says which and why. A software adapter never counts as a GPU.
 *
 * onnxruntime-node does not report which adapter Dawn picked, so the adapter is described from
 * what the Vulkan loader would see: the ICD files, `vulkaninfo --summary` when it is installed,
 * and the PCI display controllers.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';

import { DEVICE_CHOICES } from '../stage/shared-params.ts';

export { DEVICE_CHOICES };
export type DeviceChoice = (typeof DEVICE_CHOICES)[number];
export type Device = Exclude<DeviceChoice, 'auto'>;

export function parseDeviceChoice(value: unknown): DeviceChoice {
  const v =
    value === undefined || value === null || value === ''
      ? 'auto'
      : typeof value === 'string'
        ? value
        : JSON.stringify(value);
  if ((DEVICE_CHOICES as readonly string[]).includes(v)) return v as DeviceChoice;
  throw new Error(`runtime.device must be one of ${DEVICE_CHOICES.join(', ')}; got '${v}'`);
}

/** One Vulkan driver manifest (ICD json) the loader would read. */
export interface VulkanIcd {
  file: string;
  library: string;
  /** A CPU rasteriser (lavapipe, SwiftShader), not a GPU. */
  software: boolean;
}

/** A device `vulkaninfo --summary` listed. */
export interface VulkanAdapter {
  name: string;
  type: string;
  driver: string;
  software: boolean;
}

export interface PciDisplay {
  address: string;
  vendor: string;
  kernelDriver?: string;
}

export interface GpuInventory {
  /** Path of the Vulkan loader (libvulkan.so.1), when found. */
  loader?: string;
  /** Where ICD files were looked for (or the files an env override names). */
  icdSearch: string[];
  /** Set when VK_DRIVER_FILES / VK_ICD_FILENAMES replaces the search. */
  icdOverride?: string;
  icds: VulkanIcd[];
  /** From `vulkaninfo --summary`; undefined when vulkaninfo is not installed or failed. */
  adapters?: VulkanAdapter[];
  pciDisplays: PciDisplay[];
  /** libonnxruntime_providers_cuda.so in onnxruntime-node's bin folder, when installed. */
  cudaProvider?: string;
}

const SOFTWARE_DRIVER = /lvp|lavapipe|llvmpipe|swiftshader/i;

const PCI_VENDORS: Record<string, string> = {
  '0x10de': 'NVIDIA',
  '0x1002': 'AMD',
  '0x8086': 'Intel',
  '0x1af4': 'virtio',
  '0x1234': 'QEMU',
};

/** Vulkan loader search (Linux): an env override replaces the XDG config/data folders. */
function icdLocations(env: NodeJS.ProcessEnv): { paths: string[]; override?: string } {
  const override = env.VK_DRIVER_FILES || env.VK_ICD_FILENAMES;
  const extra = (env.VK_ADD_DRIVER_FILES ?? '').split(':').filter(Boolean);
  if (override) return { paths: [...override.split(':').filter(Boolean), ...extra], override };
  const home = os.homedir();
  const config = [
    env.XDG_CONFIG_HOME || path.join(home, '.config'),
    ...(env.XDG_CONFIG_DIRS || '/etc/xdg').split(':'),
    '/etc',
  ];
  const data = [
    env.XDG_DATA_HOME || path.join(home, '.local/share'),
    ...(env.XDG_DATA_DIRS || '/usr/local/share:/usr/share').split(':'),
  ];
  return { paths: [...extra, ...[...config, ...data].filter(Boolean).map((d) => path.join(d, 'vulkan/icd.d'))] };
}

function readIcd(file: string): VulkanIcd | undefined {
  try {
    const json = JSON.parse(readFileSync(file, 'utf8')) as { ICD?: { library_path?: string } };
    const library = json.ICD?.library_path;
    if (!library) return undefined;
    return { file, library, software: SOFTWARE_DRIVER.test(path.basename(library)) };
  } catch {
    return undefined;
  }
}

function findIcds(paths: string[]): VulkanIcd[] {
  const files = paths.flatMap((p) => {
    try {
      return readdirSync(p)
        .filter((f) => f.endsWith('.json'))
        .sort()
        .map((f) => path.join(p, f));
    } catch {
      return existsSync(p) ? [p] : [];
    }
  });
  return [...new Set(files)].flatMap((f) => readIcd(f) ?? []);
}

/** libvulkan.so.1 on LD_LIBRARY_PATH or in the dynamic linker's cache. */
function findLoader(env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean)) {
    const file = path.join(dir, 'libvulkan.so.1');
    if (existsSync(file)) return file;
  }
  for (const ldconfig of ['/sbin/ldconfig', '/usr/sbin/ldconfig', 'ldconfig']) {
    try {
      const cache = execFileSync(ldconfig, ['-p'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
        timeout: 5000,
      });
      const line = cache.split('\n').find((l) => l.trim().startsWith('libvulkan.so.1 '));
      return line ? line.split('=>').pop()!.trim() : undefined;
    } catch {
      // try the next location
    }
  }
  return undefined;
}

/** Devices from `vulkaninfo --summary` (vulkan-tools), which honours the same env as Dawn's loader. */
function listAdapters(env: NodeJS.ProcessEnv): VulkanAdapter[] | undefined {
  let text: string;
  try {
    text = execFileSync('vulkaninfo', ['--summary'], {
      encoding: 'utf8',
      env,
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 10_000,
    });
  } catch {
    return undefined;
  }
  const blocks = text.split(/^GPU\d+:\s*$/m).slice(1);
  return blocks.map((block) => {
    const field = (key: string) => block.match(new RegExp(`^\\s*${key}\\s*=\\s*(.*)$`, 'm'))?.[1]?.trim() ?? '';
    const type = field('deviceType').replace('PHYSICAL_DEVICE_TYPE_', '').toLowerCase();
    const name = field('deviceName');
    const driver = field('driverInfo') || field('driverName');
    return { name, type, driver, software: type === 'cpu' || SOFTWARE_DRIVER.test(name) };
  });
}

/** PCI display controllers (class 0x03xxxx): the GPUs the kernel sees, whatever their driver. */
function listPciDisplays(): PciDisplay[] {
  const root = '/sys/bus/pci/devices';
  let entries: string[];
  try {
    entries = readdirSync(root);
  } catch {
    return [];
  }
  return entries.flatMap((address) => {
    const dir = path.join(root, address);
    try {
      if (!readFileSync(path.join(dir, 'class'), 'utf8').startsWith('0x03')) return [];
      const id = readFileSync(path.join(dir, 'vendor'), 'utf8').trim();
      const kernelDriver = existsSync(path.join(dir, 'driver'))
        ? path.basename(readlinkSync(path.join(dir, 'driver')))
        : undefined;
      return [{ address, vendor: PCI_VENDORS[id] ?? id, kernelDriver }];
    } catch {
      return [];
    }
  });
}

/** onnxruntime-node's bin folder for this platform, where `--onnxruntime-node-install=cuda12` puts the add-on. */
export function onnxruntimeBinFolder(): string {
  const pkg = createRequire(import.meta.url).resolve('onnxruntime-node/package.json');
  return path.join(path.dirname(pkg), 'bin/napi-v6', process.platform, process.arch);
}

export const CUDA_PROVIDER_LIBRARY = 'libonnxruntime_providers_cuda.so';

function findCudaProvider(): string | undefined {
  const file = path.join(onnxruntimeBinFolder(), CUDA_PROVIDER_LIBRARY);
  return existsSync(file) ? file : undefined;
}

export function takeInventory(env: NodeJS.ProcessEnv = process.env): GpuInventory {
  const { paths, override } = icdLocations(env);
  return {
    loader: findLoader(env),
    icdSearch: paths,
    icdOverride: override,
    icds: findIcds(paths),
    adapters: listAdapters(env),
    pciDisplays: listPciDisplays(),
    cudaProvider: findCudaProvider(),
  };
}

function describeAdapter(a: VulkanAdapter): string {
  return `${a.name} [${a.type} device${a.driver ? `, ${a.driver}` : ''}]`;
}

function describeIcd(icd: VulkanIcd): string {
  return `${path.basename(icd.file)} → ${icd.library}${icd.software ? ' (software)' : ''}`;
}

/** The hardware adapters Dawn could use; from vulkaninfo when known, else a PCI GPU beside a non-software ICD. */
function hardwareAdapters(inv: GpuInventory): string[] {
  if (inv.adapters) return inv.adapters.filter((a) => !a.software).map(describeAdapter);
  const hwIcds = inv.icds.filter((i) => !i.software);
  if (hwIcds.length === 0) return [];
  return inv.pciDisplays.map(
    (d) =>
      `${d.vendor} GPU at ${d.address} (kernel driver ${d.kernelDriver ?? 'none'}; Vulkan ICDs ${hwIcds.map((i) => path.basename(i.file)).join(', ')})`,
  );
}

function softwareAdapters(inv: GpuInventory): string[] {
  if (inv.adapters) return inv.adapters.filter((a) => a.software).map(describeAdapter);
  return inv.icds.filter((i) => i.software).map(describeIcd);
}

/** Why Dawn found no adapter, from the most basic missing piece up. */
export function explainNoAdapter(inv: GpuInventory, error: unknown): string {
  const ortMessage = String((error as Error)?.message ?? error)
    .split('\n')[0]
    .replace(/^.*was false\.\s*/, '');
  if (!inv.loader) {
    return 'no Vulkan loader: libvulkan.so.1 is not on the library path (Debian/Ubuntu: apt-get install libvulkan1)';
  }
  if (inv.icds.length === 0) {
    const where = inv.icdOverride
      ? `VK_DRIVER_FILES/VK_ICD_FILENAMES names ${inv.icdOverride}, which holds no readable ICD file`
      : `no *.json in ${inv.icdSearch.join(', ')}`;
    return `no Vulkan driver (ICD): ${where}. Install the GPU vendor's Vulkan driver, or Mesa ≥ 25's lavapipe for a software adapter (scripts/install-vulkan.sh on Debian bookworm)`;
  }
  const seen = inv.adapters
    ? `Vulkan devices: ${inv.adapters.map(describeAdapter).join('; ') || 'none'}`
    : `Vulkan ICDs: ${inv.icds.map(describeIcd).join('; ')}`;
  return (
    `the WebGPU adapter request failed (${ortMessage}); ${seen}. ` +
    `Dawn needs Vulkan 1.1 features that Mesa < 25's lavapipe lacks (scripts/install-vulkan.sh installs Mesa 25 on Debian bookworm)`
  );
}

/** Dawn wants XDG_RUNTIME_DIR; a stage child often has none. A private one, removed at exit. */
export function ensureXdgRuntimeDir(env: NodeJS.ProcessEnv = process.env): void {
  if (env.XDG_RUNTIME_DIR) return;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pipeline-xdg-'));
  env.XDG_RUNTIME_DIR = dir;
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
}

// The project's .npmrc says onnxruntime-node-install=skip (no download during npm ci); the env var overrides it.
export const CUDA_INSTALL_HINT =
  "install onnxruntime's CUDA add-on on a machine with internet, CUDA 12 and cuDNN 9: `ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node` " +
  '(or `npm ci --onnxruntime-node-install=cuda12`); it downloads ' +
  CUDA_PROVIDER_LIBRARY +
  " into onnxruntime-node's bin folder";

interface Logger {
  log: (message: string) => void;
  warn: (message: string) => void;
}

/**
 * Opens something (an onnxruntime session) on the device `choice` asks for: `open` is called
 * with each device tried, in auto's order, until one works. Logs one line naming the device and why.
 */
export async function openOnDevice<T>(
  choice: DeviceChoice,
  open: (device: Device) => Promise<T>,
  logger: Logger,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ value: T; device: Device; software: boolean }> {
  if (choice === 'cpu') {
    const value = await open('cpu');
    logger.log('backbone device: cpu (runtime.device cpu)');
    return { value, device: 'cpu', software: false };
  }
  const inv = takeInventory(env);
  if (choice === 'cuda') {
    if (!inv.cudaProvider) {
      throw new Error(
        `runtime.device is cuda but onnxruntime's CUDA add-on is not installed (${path.join(onnxruntimeBinFolder(), CUDA_PROVIDER_LIBRARY)} is missing): ${CUDA_INSTALL_HINT}`,
      );
    }
    try {
      const value = await open('cuda');
      logger.log(`backbone device: cuda (${inv.cudaProvider})`);
      return { value, device: 'cuda', software: false };
    } catch (err) {
      throw new Error(
        `runtime.device is cuda but onnxruntime's CUDA provider failed to start (it needs an NVIDIA driver and the CUDA 12 / cuDNN 9 libraries on the library path): ${(err as Error).message}`,
        { cause: err },
      );
    }
  }
  if (choice === 'webgpu') {
    ensureXdgRuntimeDir(env);
    let value: T;
    try {
      value = await open('webgpu');
    } catch (err) {
      throw new Error(
        `runtime.device is webgpu but onnxruntime found no WebGPU adapter: ${explainNoAdapter(inv, err)}`,
        { cause: err },
      );
    }
    const hardware = hardwareAdapters(inv);
    if (hardware.length > 0) {
      logger.log(`backbone device: webgpu on ${hardware[0]}`);
      return { value, device: 'webgpu', software: false };
    }
    const software = softwareAdapters(inv);
    logger.warn(
      `backbone device: webgpu on a software adapter, ${software[0] ?? 'a CPU rasteriser'}: correct but slower than the CPU provider (meant for tests)`,
    );
    return { value, device: 'webgpu', software: true };
  }

  // auto
  const notes: string[] = [];
  const nvidia = inv.pciDisplays.some((d) => d.vendor === 'NVIDIA') || existsSync('/proc/driver/nvidia/version');
  if (!inv.cudaProvider) notes.push('no CUDA add-on');
  else if (!nvidia) notes.push('CUDA add-on installed but no NVIDIA GPU');
  else {
    try {
      const value = await open('cuda');
      logger.log(`backbone device: cuda (auto: CUDA add-on and an NVIDIA GPU found)`);
      return { value, device: 'cuda', software: false };
    } catch (err) {
      notes.push(`CUDA failed: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  const hardware = hardwareAdapters(inv);
  const hwIcds = inv.icds.filter((i) => !i.software);
  if (hardware.length > 0) {
    // Hide the software ICDs from the loader, so Dawn cannot fall back to lavapipe.
    const saved = { VK_DRIVER_FILES: env.VK_DRIVER_FILES, VK_ICD_FILENAMES: env.VK_ICD_FILENAMES };
    env.VK_DRIVER_FILES = env.VK_ICD_FILENAMES = hwIcds.map((i) => i.file).join(':');
    ensureXdgRuntimeDir(env);
    try {
      const value = await open('webgpu');
      logger.log(
        `backbone device: webgpu on ${hardware[0]} (auto: hardware GPU adapter${notes.length ? `; ${notes.join('; ')}` : ''})`,
      );
      return { value, device: 'webgpu', software: false };
    } catch (err) {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete env[k];
        else env[k] = v;
      }
      notes.push(`WebGPU on ${hardware[0]} failed: ${explainNoAdapter(inv, err)}`);
    }
  } else {
    const software = softwareAdapters(inv);
    const why = !inv.loader
      ? 'no Vulkan loader'
      : inv.icds.length === 0
        ? 'no Vulkan ICD'
        : 'no hardware Vulkan adapter';
    notes.push(software.length ? `${why} (${software.join('; ')} is a software adapter, not a GPU)` : why);
  }
  const value = await open('cpu');
  logger.log(`backbone device: cpu (auto: ${notes.join('; ')})`);
  return { value, device: 'cpu', software: false };
}
