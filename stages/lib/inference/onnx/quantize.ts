/**
 * Rewrites an fp32 graph written by `buildOnnxModel` into a QDQ (QuantizeLinear /
 * DequantizeLinear) graph that onnxruntime's CPU provider runs on its int8 kernels:
 * it fuses DQ → Conv → Q into QLinearConv, DQ → Add → Q into QLinearAdd, drops a
 * Relu/Clip before a Q whose range starts at 0, and a QDQ pair around MaxPool with
 * equal parameters.
 *
 * Activations: per tensor, u8, asymmetric, from calibrated ranges (./calibration.ts).
 * Weights: per output channel, s8, symmetric (zero point 0); biases int32 at
 * input scale × weight scale, as onnxruntime's QLinearConv wants them.
 *
 * What stays float: the cut layer's output (the features are read from it) and so
 * the node that produces it; a Conv whose output cannot be quantized keeps its
 * float weights (quantizing them would cost accuracy and buy no speed).
 */
import { OnnxExportError } from './errors.ts';
import type { OnnxInitializer, OnnxModel, OnnxNode } from './protobuf.ts';

/** Ops whose inputs get a QDQ pair: onnxruntime has an int8 kernel (or drops the pair) for each. */
const QUANTIZED_CONSUMERS = new Set([
  'Conv',
  'Add',
  'Mul',
  'MaxPool',
  'AveragePool',
  'Concat',
  'Relu',
  'Clip',
  'LeakyRelu',
]);
/** Activations onnxruntime folds into the Q after a Conv (ReluQuantFusion, ClipQuantFusion). */
const FUSED_ACTIVATIONS = new Set(['Relu', 'Clip']);
/** Ops that only move values: their output takes the input's range, so onnxruntime can drop the QDQ pair around them. */
const RANGE_PRESERVING = new Set(['MaxPool']);

export type Range = readonly [lo: number, hi: number];

export interface QuantizeSummary {
  /** Convolutions that run on QLinearConv (int8 weights, u8 activations). */
  quantizedConvs: number;
  /** Convolutions left in float32, by node name. */
  floatConvs: string[];
  /** Activation tensors with a QDQ pair. */
  quantizedTensors: number;
}

interface GraphIndex {
  producer: Map<string, OnnxNode>;
  consumers: Map<string, OnnxNode[]>;
  initializers: Map<string, OnnxInitializer>;
}

function indexGraph(model: OnnxModel): GraphIndex {
  const producer = new Map<string, OnnxNode>();
  const consumers = new Map<string, OnnxNode[]>();
  for (const node of model.graph.nodes) {
    for (const o of node.outputs) producer.set(o, node);
    for (const i of node.inputs) {
      if (!consumers.has(i)) consumers.set(i, []);
      consumers.get(i)!.push(node);
    }
  }
  return { producer, consumers, initializers: new Map(model.graph.initializers.map((t) => [t.name, t])) };
}

/**
 * The activation tensors that get a QDQ pair, in graph order: each is calibrated
 * (its range measured on training images) before `quantizeModel` runs.
 */
export function calibrationTargets(model: OnnxModel): string[] {
  const { producer, consumers, initializers } = indexGraph(model);
  const graphOutputs = new Set(model.graph.outputs.map((o) => o.name));
  // The cut layer's map (read by the `maps` Transpose and the pooling) stays float: the features come from it.
  const kept = new Set(
    model.graph.nodes.filter((n) => n.outputs.some((o) => graphOutputs.has(o))).flatMap((n) => n.inputs),
  );
  const targets: string[] = [];
  for (const node of model.graph.nodes) {
    for (const t of node.outputs) {
      if (kept.has(t) || graphOutputs.has(t) || initializers.has(t)) continue;
      const users = consumers.get(t) ?? [];
      if (!users.some((u) => QUANTIZED_CONSUMERS.has(u.opType))) continue;
      // Conv → Relu: the Q goes after the Relu, which onnxruntime then folds into the QLinearConv.
      if (producer.get(t)?.opType === 'Conv' && users.length === 1 && FUSED_ACTIVATIONS.has(users[0].opType)) continue;
      targets.push(t);
    }
  }
  return targets;
}

/** u8 scale and zero point of a range (widened to hold 0, which must be exact: padding and Relu). */
export function activationParams([lo, hi]: Range): { scale: number; zeroPoint: number } {
  const a = Math.min(0, lo);
  const b = Math.max(0, hi);
  if (!(b > a)) return { scale: 1, zeroPoint: 0 };
  const scale = (b - a) / 255;
  return { scale, zeroPoint: Math.min(255, Math.max(0, Math.round(-a / scale))) };
}

/** Symmetric s8 per output channel (axis 0 of OIHW): q = round(w / scale), scale = max|w| / 127. */
export function quantizeWeights(w: Float32Array, outChannels: number): { q: Int8Array; scales: Float32Array } {
  const per = w.length / outChannels;
  if (!Number.isInteger(per))
    throw new OnnxExportError(`a weight of ${w.length} values does not split into ${outChannels} channels`);
  const q = new Int8Array(w.length);
  const scales = new Float32Array(outChannels);
  for (let c = 0; c < outChannels; c++) {
    let m = 0;
    for (let i = c * per; i < (c + 1) * per; i++) m = Math.max(m, Math.abs(w[i]));
    const scale = m > 0 ? m / 127 : 1;
    scales[c] = scale;
    for (let i = c * per; i < (c + 1) * per; i++) q[i] = Math.max(-127, Math.min(127, Math.round(w[i] / scale)));
  }
  return { q, scales };
}

const INT32_MAX = 2 ** 31 - 1;

/**
 * The QDQ model: `ranges` holds a calibrated range for every name `calibrationTargets`
 * returned. The fp32 model is not changed.
 */
export function quantizeModel(
  model: OnnxModel,
  ranges: ReadonlyMap<string, Range>,
): { model: OnnxModel; summary: QuantizeSummary } {
  const targets = calibrationTargets(model);
  const missing = targets.filter((t) => !ranges.has(t));
  if (missing.length)
    throw new OnnxExportError(`no calibrated range for ${missing.length} tensor(s): ${missing.slice(0, 5).join(', ')}`);
  const { producer, consumers, initializers } = indexGraph(model);
  const quantized = new Set(targets);

  // A pure data mover (MaxPool) between two quantized tensors takes its input's range, so the pair around it drops out.
  const rangeOf = (t: string): Range => {
    const p = producer.get(t);
    if (p && RANGE_PRESERVING.has(p.opType) && quantized.has(p.inputs[0])) return rangeOf(p.inputs[0]);
    return ranges.get(t)!;
  };
  const params = new Map(targets.map((t) => [t, activationParams(rangeOf(t))]));

  const inits: OnnxInitializer[] = [];
  const used = new Set([
    ...model.graph.initializers.map((t) => t.name),
    ...model.graph.nodes.flatMap((n) => n.outputs),
  ]);
  const unique = (base: string) => {
    let name = base;
    for (let i = 1; used.has(name); i++) name = `${base}_${i}`;
    used.add(name);
    return name;
  };
  const init = (base: string, dims: number[], data: OnnxInitializer['data']) => {
    const name = unique(base);
    inits.push({ name, dims, data });
    return name;
  };

  // One Q/DQ pair per quantized tensor; consumers read the DQ output.
  const dequantized = new Map<string, string>();
  const qdqNodes = new Map<string, OnnxNode[]>();
  for (const t of targets) {
    const { scale, zeroPoint } = params.get(t)!;
    const s = init(`${t}_scale`, [], Float32Array.of(scale));
    const zp = init(`${t}_zero_point`, [], Uint8Array.of(zeroPoint));
    const q = unique(`${t}_quantized`);
    const dq = unique(`${t}_dequantized`);
    dequantized.set(t, dq);
    qdqNodes.set(t, [
      { opType: 'QuantizeLinear', name: q, inputs: [t, s, zp], outputs: [q] },
      { opType: 'DequantizeLinear', name: dq, inputs: [q, s, zp], outputs: [dq] },
    ]);
  }

  const quantizedOutput = (conv: OnnxNode): boolean => {
    const out = conv.outputs[0];
    if (quantized.has(out)) return true;
    const users = consumers.get(out) ?? [];
    return users.length === 1 && FUSED_ACTIVATIONS.has(users[0].opType) && quantized.has(users[0].outputs[0]);
  };

  const summary: QuantizeSummary = { quantizedConvs: 0, floatConvs: [], quantizedTensors: targets.length };
  const replacedWeights = new Set<string>();
  const nodes: OnnxNode[] = [];
  for (const node of model.graph.nodes) {
    const inputs = node.inputs.map((i) => dequantized.get(i) ?? i);
    if (node.opType === 'Conv') {
      const [x, wName, bName] = node.inputs;
      const weight = initializers.get(wName);
      if (quantized.has(x) && weight && weight.data instanceof Float32Array && quantizedOutput(node)) {
        const outChannels = weight.dims[0];
        const { q, scales } = quantizeWeights(weight.data, outChannels);
        const wq = init(`${wName}_quantized`, weight.dims, q);
        const ws = init(`${wName}_scale`, [outChannels], scales);
        const wzp = init(`${wName}_zero_point`, [outChannels], new Int8Array(outChannels));
        const wdq = unique(`${wName}_dequantized`);
        nodes.push({
          opType: 'DequantizeLinear',
          name: wdq,
          inputs: [wq, ws, wzp],
          outputs: [wdq],
          attributes: { axis: 0 },
        });
        inputs[1] = wdq;
        replacedWeights.add(wName);
        const bias = bName ? initializers.get(bName) : undefined;
        if (bias && bias.data instanceof Float32Array) {
          const inScale = params.get(x)!.scale;
          const bScales = scales.map((s) => s * inScale);
          const bq = Int32Array.from(bias.data, (b, c) =>
            Math.max(-INT32_MAX, Math.min(INT32_MAX, Math.round(b / bScales[c]))),
          );
          const bqName = init(`${bName}_quantized`, bias.dims, bq);
          const bs = init(`${bName}_scale`, [outChannels], bScales);
          const bzp = init(`${bName}_zero_point`, [outChannels], new Int32Array(outChannels));
          const bdq = unique(`${bName}_dequantized`);
          nodes.push({
            opType: 'DequantizeLinear',
            name: bdq,
            inputs: [bqName, bs, bzp],
            outputs: [bdq],
            attributes: { axis: 0 },
          });
          inputs[2] = bdq;
          replacedWeights.add(bName);
        }
        summary.quantizedConvs++;
      } else {
        summary.floatConvs.push(node.name);
      }
    }
    nodes.push({ ...node, inputs });
    for (const o of node.outputs) nodes.push(...(qdqNodes.get(o) ?? []));
  }

  const stillUsed = new Set(nodes.flatMap((n) => n.inputs));
  const initializersOut = [
    ...model.graph.initializers.filter((t) => !replacedWeights.has(t.name) || stillUsed.has(t.name)),
    ...inits,
  ];
  return {
    model: {
      ...model,
      producerName: `${model.producerName}-qdq`,
      graph: { ...model.graph, nodes, initializers: initializersOut },
    },
    summary,
  };
}
