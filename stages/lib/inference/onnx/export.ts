/**
 * Exports a frozen TF.js layers model (a backbone truncated at its cut layer)
 * to an ONNX graph that onnxruntime runs. Interface: input `input` NHWC
 * [N,H,W,3] float32; outputs `maps` (the cut layer's output, NHWC) and
 * `pooled` (its global average, [N,C]). Inside, 4-D tensors are NCHW, the
 * layout onnxruntime's CPU convolutions are fastest in.
 *
 * The translation is exact up to float32 rounding: batch norms are folded into
 * the preceding convolution only when that convolution feeds nothing else, and
 * any layer or option without an exact ONNX equivalent raises
 * UnsupportedLayerError instead of producing a graph that differs.
 */
import * as tf from '@tensorflow/tfjs';
import { OnnxExportError, UnsupportedLayerError } from './errors.ts';
import {
  encodeModel,
  TensorDataType,
  type AttributeValue,
  type OnnxInitializer,
  type OnnxModel,
  type OnnxNode,
} from './protobuf.ts';
import { tfSamePads } from './tf-padding.ts';
import {
  batchNormAffine,
  convKernelToOihw,
  depthwiseKernelToOihw,
  foldAffineIntoConv,
  type ChannelAffine,
} from './weight-layout.ts';

type Layer = tf.layers.Layer;
type SymbolicTensor = tf.SymbolicTensor;
type Shape = (number | null)[];

export const ONNX_INPUT_NAME = 'input';
export const ONNX_MAPS_OUTPUT = 'maps';
export const ONNX_POOLED_OUTPUT = 'pooled';

export interface ExportOptions {
  /** ONNX opset; the ops used here are all stable at 13. */
  opsetVersion?: number;
  graphName?: string;
}

export interface OnnxExport {
  model: OnnxModel;
  /** Forward FLOPs per image (2 × multiply-accumulates of convolutions and dense layers). */
  flopsPerImage: number;
  inputShape: [number, number, number];
  mapShape: [number, number, number];
}

/** A tensor in the ONNX graph. 4-D values are NCHW there; `tfShape` keeps the TF (NHWC) shape. */
interface Value {
  name: string;
  tfShape: Shape;
}

interface Scope {
  /** Prefix for node/value names so that layers of inlined nested models stay unique. */
  prefix: string;
  /** Inputs of the (nested) model being inlined, bound to values of the enclosing graph. */
  bindings: Map<number, Value>;
}

const CONV_CLASSES = new Set(['Conv2D', 'DepthwiseConv2D', 'SeparableConv2D']);
const IDENTITY_CLASSES = new Set(['Dropout', 'SpatialDropout2D', 'GaussianNoise', 'GaussianDropout', 'AlphaDropout']);
/** NHWC axis → NCHW axis. */
const NCHW_AXIS = [0, 2, 3, 1];

function isNestedModel(layer: Layer): layer is tf.LayersModel {
  return layer instanceof tf.LayersModel;
}

function config(layer: Layer): Record<string, any> {
  return layer.getConfig() as Record<string, any>;
}

function pair(v: number | number[] | null | undefined, fallback: [number, number]): [number, number] {
  if (v == null) return fallback;
  return Array.isArray(v) ? [v[0], v[1] ?? v[0]] : [v, v];
}

class GraphBuilder {
  readonly nodes: OnnxNode[] = [];
  readonly initializers: OnnxInitializer[] = [];
  flops = 0;
  private used = new Set<string>();

  unique(base: string): string {
    let name = base;
    for (let i = 1; this.used.has(name); i++) name = `${base}_${i}`;
    this.used.add(name);
    return name;
  }

  node(opType: string, inputs: string[], outputName: string, attributes?: Record<string, AttributeValue>): string {
    const output = this.unique(outputName);
    this.nodes.push({ opType, name: output, inputs, outputs: [output], attributes });
    return output;
  }

  floatInit(base: string, dims: number[], data: Float32Array): string {
    const name = this.unique(base);
    this.initializers.push({ name, dims, data });
    return name;
  }

  int64Init(base: string, values: number[]): string {
    const name = this.unique(base);
    this.initializers.push({ name, dims: [values.length], data: BigInt64Array.from(values.map((v) => BigInt(v))) });
    return name;
  }

  scalarInit(base: string, value: number): string {
    const name = this.unique(base);
    this.initializers.push({ name, dims: [], data: Float32Array.of(value) });
    return name;
  }
}

/** Reads a layer weight by its Keras name ('kernel', 'gamma', ...). Never disposes: these are the model's variables. */
function weight(layer: Layer, shortName: string): Float32Array | null {
  const found = layer.weights.find((w) => {
    const n = w.originalName ?? w.name;
    return n === shortName || n.endsWith(`/${shortName}`) || n.endsWith(`/${shortName}:0`);
  });
  if (!found) return null;
  return Float32Array.from(found.read().dataSync() as Float32Array);
}

function requireWeight(layer: Layer, shortName: string): Float32Array {
  const w = weight(layer, shortName);
  if (!w) throw new UnsupportedLayerError(layer.name, layer.getClassName(), `weight '${shortName}' not found`);
  return w;
}

/** From the kernel itself: SeparableConv2D's getConfig() omits depthMultiplier in TF.js 4.22. */
function depthMultiplier(
  kernel: Float32Array,
  kh: number,
  kw: number,
  cin: number,
  unsupported: (r: string) => Error,
): number {
  const mult = kernel.length / (kh * kw * cin);
  if (!Number.isInteger(mult) || mult < 1)
    throw unsupported(`depthwise kernel of ${kernel.length} values does not fit ${kh}×${kw}×${cin}×multiplier`);
  return mult;
}

class Exporter {
  private readonly g = new GraphBuilder();
  private readonly memo = new Map<string, Value>();

  constructor(private readonly root: tf.LayersModel) {}

  build(opts: ExportOptions): OnnxExport {
    const model = this.root;
    if (model.inputs.length !== 1 || model.outputs.length !== 1) {
      throw new OnnxExportError(
        `expected a model with one input and one output, got ${model.inputs.length} and ${model.outputs.length}`,
      );
    }
    const inShape = model.inputs[0].shape;
    if (inShape.length !== 4 || inShape.slice(1).some((d) => d == null)) {
      throw new OnnxExportError(`expected an NHWC image input [N,H,W,C] with fixed H, W and C, got [${inShape}]`);
    }
    const inputShape = inShape.slice(1) as [number, number, number];
    const nchwInput = this.g.node('Transpose', [ONNX_INPUT_NAME], 'input_nchw', { perm: [0, 3, 1, 2] });
    const rootScope: Scope = {
      prefix: '',
      bindings: new Map([[model.inputs[0].id, { name: nchwInput, tfShape: inShape }]]),
    };
    const out = this.valueOf(model.outputs[0], rootScope);
    const [, h, w, c] = out.tfShape;
    if (out.tfShape.length !== 4 || h == null || w == null || c == null) {
      throw new OnnxExportError(`the cut layer must output a 4-D NHWC map with fixed size, got [${out.tfShape}]`);
    }
    this.g.nodes.push({
      opType: 'Transpose',
      name: ONNX_MAPS_OUTPUT,
      inputs: [out.name],
      outputs: [ONNX_MAPS_OUTPUT],
      attributes: { perm: [0, 2, 3, 1] },
    });
    const gap = this.g.node('GlobalAveragePool', [out.name], 'pooled_nc11');
    this.g.nodes.push({
      opType: 'Flatten',
      name: ONNX_POOLED_OUTPUT,
      inputs: [gap],
      outputs: [ONNX_POOLED_OUTPUT],
      attributes: { axis: 1 },
    });

    const batch = 'N';
    const onnxModel: OnnxModel = {
      irVersion: 8,
      opsetVersion: opts.opsetVersion ?? 13,
      producerName: 'pipeline-tfjs-onnx',
      producerVersion: '1',
      graph: {
        name: opts.graphName ?? model.name,
        nodes: this.g.nodes,
        initializers: this.g.initializers,
        inputs: [{ name: ONNX_INPUT_NAME, elemType: TensorDataType.FLOAT, dims: [batch, ...inputShape] }],
        outputs: [
          { name: ONNX_MAPS_OUTPUT, elemType: TensorDataType.FLOAT, dims: [batch, h, w, c] },
          { name: ONNX_POOLED_OUTPUT, elemType: TensorDataType.FLOAT, dims: [batch, c] },
        ],
      },
    };
    return { model: onnxModel, flopsPerImage: this.g.flops, inputShape, mapShape: [h, w, c] };
  }

  /** The ONNX value of a symbolic tensor, emitting its producing layer (and everything upstream) once. */
  private valueOf(st: SymbolicTensor, scope: Scope): Value {
    const bound = scope.bindings.get(st.id);
    if (bound) return bound;
    const key = `${scope.prefix}#${st.id}`;
    const cached = this.memo.get(key);
    if (cached) return cached;

    const layer = st.sourceLayer;
    const node = layer.inboundNodes[st.nodeIndex];
    let value: Value;
    if (isNestedModel(layer)) {
      // Inline: bind the nested model's inputs to this call's inputs and walk its graph.
      const args = node.inputTensors.map((t) => this.valueOf(t, scope));
      if (args.length !== layer.inputs.length) {
        throw new UnsupportedLayerError(
          layer.name,
          layer.getClassName(),
          `called with ${args.length} inputs, defined with ${layer.inputs.length}`,
        );
      }
      const inner: Scope = {
        prefix: `${scope.prefix}${layer.name}/`,
        bindings: new Map(layer.inputs.map((t, i) => [t.id, args[i]])),
      };
      value = this.valueOf(layer.outputs[st.tensorIndex], inner);
    } else {
      if (layer.getClassName() === 'InputLayer') {
        throw new OnnxExportError(`input '${layer.name}' is not connected to the exported model's input`);
      }
      value = this.emitLayer(layer, node.inputTensors, node.outputTensors[st.tensorIndex].shape, scope);
    }
    this.memo.set(key, value);
    return value;
  }

  private emitLayer(layer: Layer, inputs: SymbolicTensor[], outShape: Shape, scope: Scope): Value {
    const cls = layer.getClassName();
    const cfg = config(layer);
    const name = `${scope.prefix}${layer.name}`;
    const unsupported = (reason: string) => new UnsupportedLayerError(layer.name, cls, reason);
    const one = () => {
      if (inputs.length !== 1) throw unsupported(`expected one input, got ${inputs.length}`);
      return this.valueOf(inputs[0], scope);
    };

    if (CONV_CLASSES.has(cls)) {
      return this.emitConv(layer, inputs, outShape, scope, null, name);
    }
    switch (cls) {
      case 'BatchNormalization':
        return this.emitBatchNorm(layer, inputs, outShape, scope, name);
      case 'Activation': {
        const x = one();
        return {
          name: this.emitActivation(cfg.activation, x.name, name, unsupported, x.tfShape.length),
          tfShape: outShape,
        };
      }
      case 'ReLU': {
        const x = one();
        const maxValue: number | null = cfg.maxValue ?? null;
        const slope: number = cfg.negativeSlope ?? 0;
        const threshold: number = cfg.threshold ?? 0;
        if (threshold !== 0) throw unsupported(`threshold ${threshold} is not supported`);
        if (slope !== 0 && maxValue != null)
          throw unsupported('negative_slope together with max_value is not supported');
        if (slope !== 0)
          return { name: this.g.node('LeakyRelu', [x.name], name, { alpha: { float: slope } }), tfShape: outShape };
        if (maxValue != null) return { name: this.clip(x.name, 0, maxValue, name), tfShape: outShape };
        return { name: this.g.node('Relu', [x.name], name), tfShape: outShape };
      }
      case 'LeakyReLU': {
        const x = one();
        return {
          name: this.g.node('LeakyRelu', [x.name], name, { alpha: { float: cfg.alpha ?? 0.3 } }),
          tfShape: outShape,
        };
      }
      case 'ELU': {
        const x = one();
        return { name: this.g.node('Elu', [x.name], name, { alpha: { float: cfg.alpha ?? 1 } }), tfShape: outShape };
      }
      case 'Softmax': {
        const x = one();
        if (x.tfShape.length !== 2) throw unsupported('softmax is only exported on 2-D tensors');
        return { name: this.g.node('Softmax', [x.name], name, { axis: -1 }), tfShape: outShape };
      }
      case 'Add':
      case 'Multiply':
      case 'Maximum':
      case 'Minimum': {
        const xs = inputs.map((t) => this.valueOf(t, scope));
        const shapes = xs.map((x) => JSON.stringify(x.tfShape.slice(1)));
        if (new Set(shapes).size !== 1)
          throw unsupported(`inputs of different shapes ${shapes.join(', ')} (broadcasting not exported)`);
        const variadic = { Add: 'Sum', Multiply: 'Mul', Maximum: 'Max', Minimum: 'Min' }[cls];
        if (cls === 'Add' || cls === 'Multiply') {
          const binary = cls === 'Add' ? 'Add' : 'Mul';
          let acc = xs[0].name;
          for (let i = 1; i < xs.length; i++)
            acc = this.g.node(binary, [acc, xs[i].name], i === xs.length - 1 ? name : `${name}_partial${i}`);
          return { name: acc, tfShape: outShape };
        }
        return {
          name: this.g.node(
            variadic,
            xs.map((x) => x.name),
            name,
          ),
          tfShape: outShape,
        };
      }
      case 'Subtract': {
        if (inputs.length !== 2) throw unsupported('expected two inputs');
        const [a, b] = inputs.map((t) => this.valueOf(t, scope));
        return { name: this.g.node('Sub', [a.name, b.name], name), tfShape: outShape };
      }
      case 'Concatenate': {
        const xs = inputs.map((t) => this.valueOf(t, scope));
        const rank = outShape.length;
        let axis: number = cfg.axis ?? -1;
        if (axis < 0) axis += rank;
        const onnxAxis = rank === 4 ? NCHW_AXIS[axis] : axis;
        if (axis === 0) throw unsupported('concatenation along the batch axis');
        return {
          name: this.g.node(
            'Concat',
            xs.map((x) => x.name),
            name,
            { axis: onnxAxis },
          ),
          tfShape: outShape,
        };
      }
      case 'ZeroPadding2D': {
        const x = one();
        const [[top, bottom], [left, right]] = this.zeroPadding(layer);
        const pads = this.g.int64Init(`${name}_pads`, [0, 0, top, left, 0, 0, bottom, right]);
        return { name: this.g.node('Pad', [x.name, pads], name, { mode: 'constant' }), tfShape: outShape };
      }
      case 'MaxPooling2D':
      case 'AveragePooling2D': {
        const x = one();
        if ((cfg.dataFormat ?? 'channelsLast') !== 'channelsLast') throw unsupported('only channels_last is supported');
        const kernel = pair(cfg.poolSize, [2, 2]);
        const strides = pair(cfg.strides, kernel);
        const attrs: Record<string, AttributeValue> = {
          kernel_shape: kernel,
          strides,
          ...this.padsAttr(x.tfShape, kernel, strides, [1, 1], cfg.padding, unsupported),
        };
        // TF's 'same' average excludes the padded cells from the count; max pooling never sees pads in either.
        if (cls === 'AveragePooling2D') attrs.count_include_pad = 0;
        return {
          name: this.g.node(cls === 'MaxPooling2D' ? 'MaxPool' : 'AveragePool', [x.name], name, attrs),
          tfShape: outShape,
        };
      }
      case 'GlobalAveragePooling2D':
      case 'GlobalMaxPooling2D': {
        const x = one();
        if ((cfg.dataFormat ?? 'channelsLast') !== 'channelsLast') throw unsupported('only channels_last is supported');
        const pooled = this.g.node(
          cls === 'GlobalAveragePooling2D' ? 'GlobalAveragePool' : 'GlobalMaxPool',
          [x.name],
          outShape.length === 4 ? name : `${name}_nc11`,
        );
        if (outShape.length === 4) return { name: pooled, tfShape: outShape }; // keepdims: [N,C,1,1] is already NCHW
        return { name: this.g.node('Flatten', [pooled], name, { axis: 1 }), tfShape: outShape };
      }
      case 'Flatten': {
        const x = one();
        const nhwc = this.toTfOrder(x, name);
        return { name: this.g.node('Flatten', [nhwc], name, { axis: 1 }), tfShape: outShape };
      }
      case 'Reshape': {
        const x = one();
        const nhwc = this.toTfOrder(x, name);
        const target = cfg.targetShape as number[];
        // 0 copies the batch dimension (allowzero = 0).
        const shape = this.g.int64Init(`${name}_shape`, [0, ...target]);
        if (outShape.length === 4) {
          const reshaped = this.g.node('Reshape', [nhwc, shape], `${name}_nhwc`);
          return { name: this.g.node('Transpose', [reshaped], name, { perm: [0, 3, 1, 2] }), tfShape: outShape };
        }
        return { name: this.g.node('Reshape', [nhwc, shape], name), tfShape: outShape };
      }
      case 'Dense': {
        const x = one();
        if (x.tfShape.length !== 2) throw unsupported(`dense on a rank-${x.tfShape.length} tensor is not exported`);
        const kernel = requireWeight(layer, 'kernel');
        const units: number = cfg.units;
        const inDim = kernel.length / units;
        const b = cfg.useBias === false ? null : requireWeight(layer, 'bias');
        const inputsGemm = [x.name, this.g.floatInit(`${name}_kernel`, [inDim, units], kernel)];
        if (b) inputsGemm.push(this.g.floatInit(`${name}_bias`, [units], b));
        this.g.flops += 2 * inDim * units;
        const linear = cfg.activation == null || cfg.activation === 'linear';
        const y = this.g.node('Gemm', inputsGemm, linear ? name : `${name}_linear`);
        return { name: linear ? y : this.emitActivation(cfg.activation, y, name, unsupported, 2), tfShape: outShape };
      }
      default:
        if (IDENTITY_CLASSES.has(cls)) return one(); // inference-time identities
        throw unsupported('no ONNX translation for this layer class');
    }
  }

  private zeroPadding(layer: Layer): [[number, number], [number, number]] {
    const p = config(layer).padding;
    if (typeof p === 'number')
      return [
        [p, p],
        [p, p],
      ];
    const [ph, pw] = p as (number | number[])[];
    return [pair(ph, [0, 0]), pair(pw, [0, 0])];
  }

  private clip(input: string, min: number, max: number, outName: string): string {
    return this.g.node(
      'Clip',
      [input, this.g.scalarInit(`${outName}_min`, min), this.g.scalarInit(`${outName}_max`, max)],
      outName,
    );
  }

  private emitActivation(
    activation: string | null | undefined,
    input: string,
    outName: string,
    unsupported: (r: string) => Error,
    rank: number,
  ): string {
    switch (activation ?? 'linear') {
      case 'linear':
        return this.g.node('Identity', [input], outName);
      case 'relu':
        return this.g.node('Relu', [input], outName);
      case 'relu6':
        return this.clip(input, 0, 6, outName);
      case 'sigmoid':
        return this.g.node('Sigmoid', [input], outName);
      case 'tanh':
        return this.g.node('Tanh', [input], outName);
      case 'elu':
        return this.g.node('Elu', [input], outName, { alpha: { float: 1 } });
      case 'selu':
        return this.g.node('Selu', [input], outName);
      case 'softplus':
        return this.g.node('Softplus', [input], outName);
      case 'swish': {
        const s = this.g.node('Sigmoid', [input], `${outName}_sigmoid`);
        return this.g.node('Mul', [input, s], outName);
      }
      case 'softmax':
        if (rank !== 2) throw unsupported('softmax activation is only exported on 2-D tensors');
        return this.g.node('Softmax', [input], outName, { axis: -1 });
      default:
        throw unsupported(`activation '${activation}' is not supported`);
    }
  }

  /** A 4-D NCHW value transposed back to TF's NHWC order (other ranks are already in TF order). */
  private toTfOrder(x: Value, name: string): string {
    if (x.tfShape.length !== 4) return x.name;
    return this.g.node('Transpose', [x.name], `${name}_to_nhwc`, { perm: [0, 2, 3, 1] });
  }

  private padsAttr(
    inShape: Shape,
    kernel: [number, number],
    strides: [number, number],
    dilations: [number, number],
    padding: string,
    unsupported: (r: string) => Error,
    extra: [[number, number], [number, number]] = [
      [0, 0],
      [0, 0],
    ],
  ): Record<string, AttributeValue> {
    const [[et, eb], [el, er]] = extra;
    if (padding === 'valid') return { pads: [et, el, eb, er] };
    if (padding !== 'same') throw unsupported(`padding '${padding}' is not supported`);
    const h = inShape[1];
    const w = inShape[2];
    if (h == null || w == null) throw unsupported('same padding needs a fixed input height and width');
    const [t, b] = tfSamePads(h, kernel[0], strides[0], dilations[0]);
    const [l, r] = tfSamePads(w, kernel[1], strides[1], dilations[1]);
    return { pads: [t + et, l + el, b + eb, r + er] };
  }

  /**
   * A ZeroPadding2D feeding only this 'valid' convolution becomes the convolution's own
   * (zero) pads — exact, and saves a copy of the padded map.
   */
  private absorbedZeroPadding(
    conv: Layer,
    input: SymbolicTensor,
    scope: Scope,
  ): { input: SymbolicTensor; pads: [[number, number], [number, number]] } | null {
    if (scope.bindings.has(input.id)) return null;
    const pad = input.sourceLayer;
    if (pad.getClassName() !== 'ZeroPadding2D' || config(conv).padding !== 'valid') return null;
    if (pad.inboundNodes.length !== 1 || pad.outboundNodes.length !== 1) return null;
    const padInputs = pad.inboundNodes[0].inputTensors;
    if (padInputs.length !== 1) return null;
    return { input: padInputs[0], pads: this.zeroPadding(pad) };
  }

  /**
   * Conv2D / DepthwiseConv2D / SeparableConv2D, optionally with a following batch
   * norm folded in (`affine`), producing `outName`.
   */
  private emitConv(
    layer: Layer,
    inputs: SymbolicTensor[],
    outShape: Shape,
    scope: Scope,
    affine: ChannelAffine | null,
    outName: string,
  ): Value {
    const cls = layer.getClassName();
    const cfg = config(layer);
    const name = `${scope.prefix}${layer.name}`;
    const unsupported = (reason: string) => new UnsupportedLayerError(layer.name, cls, reason);
    if (inputs.length !== 1) throw unsupported(`expected one input, got ${inputs.length}`);
    if ((cfg.dataFormat ?? 'channelsLast') !== 'channelsLast') throw unsupported('only channels_last is supported');

    const absorbed = this.absorbedZeroPadding(layer, inputs[0], scope);
    const x = this.valueOf(absorbed ? absorbed.input : inputs[0], scope);
    const inShape = absorbed ? x.tfShape : inputs[0].shape;
    const cin = inShape[3];
    if (cin == null) throw unsupported('unknown input channel count');
    const [kh, kw] = pair(cfg.kernelSize, [1, 1]);
    const strides = pair(cfg.strides, [1, 1]);
    const dilations = pair(cfg.dilationRate, [1, 1]);
    // Pads are computed against the original (pre-ZeroPadding) input when absorbed: 'valid' + extra pads.
    const spatial = this.padsAttr(
      absorbed ? inputs[0].shape : inShape,
      [kh, kw],
      strides,
      dilations,
      cfg.padding,
      unsupported,
      absorbed?.pads,
    );
    const conv = { kernel_shape: [kh, kw], strides, dilations, ...spatial };
    const [, oh, ow, cout] = outShape;
    if (oh == null || ow == null || cout == null) throw unsupported('unknown output shape');
    const useBias = cfg.useBias !== false;

    let y: string;
    if (cls === 'Conv2D') {
      const w = convKernelToOihw(requireWeight(layer, 'kernel'), kh, kw, cin, cout);
      y = this.convNode(
        name,
        x.name,
        w,
        [cout, cin, kh, kw],
        useBias ? requireWeight(layer, 'bias') : null,
        affine,
        { ...conv, group: 1 },
        outName,
        cfg.activation,
      );
      this.g.flops += 2 * oh * ow * cout * kh * kw * cin;
    } else if (cls === 'DepthwiseConv2D') {
      const dk = requireWeight(layer, 'depthwise_kernel');
      const mult = depthMultiplier(dk, kh, kw, cin, unsupported);
      const w = depthwiseKernelToOihw(dk, kh, kw, cin, mult);
      y = this.convNode(
        name,
        x.name,
        w,
        [cin * mult, 1, kh, kw],
        useBias ? requireWeight(layer, 'bias') : null,
        affine,
        { ...conv, group: cin },
        outName,
        cfg.activation,
      );
      this.g.flops += 2 * oh * ow * cin * mult * kh * kw;
    } else {
      // SeparableConv2D = depthwise (no bias) then 1×1 pointwise (with bias, activation, folded BN).
      const dk = requireWeight(layer, 'depthwise_kernel');
      const mult = depthMultiplier(dk, kh, kw, cin, unsupported);
      const dw = depthwiseKernelToOihw(dk, kh, kw, cin, mult);
      const mid = this.convNode(
        `${name}_depthwise`,
        x.name,
        dw,
        [cin * mult, 1, kh, kw],
        null,
        null,
        { ...conv, group: cin },
        `${name}_depthwise`,
        'linear',
      );
      const pw = convKernelToOihw(requireWeight(layer, 'pointwise_kernel'), 1, 1, cin * mult, cout);
      const pointwise = { kernel_shape: [1, 1], strides: [1, 1], dilations: [1, 1], pads: [0, 0, 0, 0], group: 1 };
      y = this.convNode(
        name,
        mid,
        pw,
        [cout, cin * mult, 1, 1],
        useBias ? requireWeight(layer, 'bias') : null,
        affine,
        pointwise,
        outName,
        cfg.activation,
      );
      this.g.flops += 2 * oh * ow * cin * mult * kh * kw + 2 * oh * ow * cin * mult * cout;
    }
    return { name: y, tfShape: outShape };
  }

  private convNode(
    name: string,
    input: string,
    weightOihw: Float32Array,
    dims: number[],
    bias: Float32Array | null,
    affine: ChannelAffine | null,
    attrs: Record<string, AttributeValue>,
    outName: string,
    activation: string | null | undefined,
  ): string {
    const folded = affine ? foldAffineIntoConv(weightOihw, bias, affine) : { weight: weightOihw, bias };
    const inputs = [input, this.g.floatInit(`${name}_W`, dims, folded.weight)];
    if (folded.bias) inputs.push(this.g.floatInit(`${name}_B`, [dims[0]], folded.bias));
    const linear = activation == null || activation === 'linear';
    const y = this.g.node('Conv', inputs, linear ? outName : `${outName}_linear`, attrs);
    if (linear) return y;
    return this.emitActivation(activation, y, outName, (r) => new UnsupportedLayerError(name, 'Conv', r), 4);
  }

  private emitBatchNorm(layer: Layer, inputs: SymbolicTensor[], outShape: Shape, scope: Scope, name: string): Value {
    const cls = layer.getClassName();
    const cfg = config(layer);
    const unsupported = (reason: string) => new UnsupportedLayerError(layer.name, cls, reason);
    if (inputs.length !== 1) throw unsupported(`expected one input, got ${inputs.length}`);
    const rank = outShape.length;
    let axis: number = Array.isArray(cfg.axis) ? cfg.axis[0] : (cfg.axis ?? -1);
    if (axis < 0) axis += rank;
    if (axis !== rank - 1 || (rank !== 4 && rank !== 2))
      throw unsupported(`normalization over axis ${cfg.axis} of a rank-${rank} tensor`);
    const gamma = cfg.scale === false ? null : requireWeight(layer, 'gamma');
    const beta = cfg.center === false ? null : requireWeight(layer, 'beta');
    const mean = requireWeight(layer, 'moving_mean');
    const variance = requireWeight(layer, 'moving_variance');
    const epsilon: number = cfg.epsilon ?? 1e-3;
    const affine = batchNormAffine(gamma, beta, mean, variance, epsilon);

    // Fold into the producing convolution when nothing else reads the convolution's output.
    const src = inputs[0];
    const producer = src.sourceLayer;
    const foldable =
      !scope.bindings.has(src.id) &&
      !this.memo.has(`${scope.prefix}#${src.id}`) &&
      CONV_CLASSES.has(producer.getClassName()) &&
      (config(producer).activation ?? 'linear') === 'linear' &&
      producer.inboundNodes.length === 1 &&
      producer.outboundNodes.length === 1 &&
      src !== this.root.outputs[0];
    if (foldable) {
      const convNode = producer.inboundNodes[0];
      const value = this.emitConv(
        producer,
        convNode.inputTensors,
        convNode.outputTensors[0].shape,
        scope,
        affine,
        name,
      );
      return { name: value.name, tfShape: outShape };
    }

    const x = this.valueOf(src, scope);
    const c = mean.length;
    const ones = new Float32Array(c).fill(1);
    const zeros = new Float32Array(c);
    const bn = [
      x.name,
      this.g.floatInit(`${name}_gamma`, [c], gamma ?? ones),
      this.g.floatInit(`${name}_beta`, [c], beta ?? zeros),
      this.g.floatInit(`${name}_mean`, [c], mean),
      this.g.floatInit(`${name}_var`, [c], variance),
    ];
    return { name: this.g.node('BatchNormalization', bn, name, { epsilon: { float: epsilon } }), tfShape: outShape };
  }
}

/** Builds the ONNX graph (not yet serialized) and the FLOP count of one forward pass. */
export function buildOnnxModel(model: tf.LayersModel, opts: ExportOptions = {}): OnnxExport {
  return new Exporter(model).build(opts);
}

/** Serialized ONNX ModelProto for a TF.js layers model truncated at its cut layer. */
export function exportToOnnx(model: tf.LayersModel, opts: ExportOptions = {}): Uint8Array {
  return encodeModel(buildOnnxModel(model, opts).model);
}
