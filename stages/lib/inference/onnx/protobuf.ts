/**
 * A minimal protobuf writer and the handful of ONNX messages the exporter
 * needs (field numbers from onnx/onnx.proto3). Writing only: nothing here
 * ever parses ONNX; onnxruntime is the reader.
 */

const WIRE_VARINT = 0;
const WIRE_FIXED32 = 5;
const WIRE_LENGTH_DELIMITED = 2;

const textEncoder = new TextEncoder();

/** Appends protobuf fields to a growing list of chunks; `finish()` concatenates once. */
export class ProtoWriter {
  private chunks: Uint8Array[] = [];
  private scratch: number[] = [];
  private length = 0;

  private flushScratch(): void {
    if (this.scratch.length === 0) return;
    this.pushChunk(Uint8Array.from(this.scratch));
    this.scratch = [];
  }

  private pushChunk(bytes: Uint8Array): void {
    this.chunks.push(bytes);
    this.length += bytes.length;
  }

  /** Raw varint; negative numbers are written as 10-byte two's complement, as int64 requires. */
  varint(value: number | bigint): this {
    let v = BigInt.asUintN(64, BigInt(value));
    if (typeof value === 'number' && !Number.isInteger(value)) {
      throw new RangeError(`protobuf varint needs an integer, got ${value}`);
    }
    while (v >= 0x80n) {
      this.scratch.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.scratch.push(Number(v));
    return this;
  }

  private tag(field: number, wireType: number): void {
    this.varint((field << 3) | wireType);
  }

  int(field: number, value: number | bigint): this {
    this.tag(field, WIRE_VARINT);
    return this.varint(value);
  }

  float(field: number, value: number): this {
    this.tag(field, WIRE_FIXED32);
    const bytes = new Uint8Array(4);
    new DataView(bytes.buffer).setFloat32(0, value, true);
    for (const b of bytes) this.scratch.push(b);
    return this;
  }

  bytes(field: number, value: Uint8Array): this {
    this.tag(field, WIRE_LENGTH_DELIMITED);
    this.varint(value.length);
    this.flushScratch();
    this.pushChunk(value);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, textEncoder.encode(value));
  }

  /** Packed repeated varints (proto3 default for repeated scalars). */
  packedInts(field: number, values: readonly (number | bigint)[]): this {
    const inner = new ProtoWriter();
    for (const v of values) inner.varint(v);
    return this.bytes(field, inner.finish());
  }

  packedFloats(field: number, values: readonly number[]): this {
    const buf = new Uint8Array(values.length * 4);
    const view = new DataView(buf.buffer);
    values.forEach((v, i) => view.setFloat32(i * 4, v, true));
    return this.bytes(field, buf);
  }

  message(field: number, encoded: Uint8Array): this {
    return this.bytes(field, encoded);
  }

  finish(): Uint8Array {
    this.flushScratch();
    if (this.chunks.length === 1) return this.chunks[0];
    const out = new Uint8Array(this.length);
    let offset = 0;
    for (const c of this.chunks) {
      out.set(c, offset);
      offset += c.length;
    }
    return out;
  }
}

// ---- ONNX messages ---------------------------------------------------------

export const TensorDataType = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7 } as const;

const AttributeType = { FLOAT: 1, INT: 2, STRING: 3, FLOATS: 6, INTS: 7 } as const;

export type AttributeValue = number | string | readonly number[] | { float: number } | { floats: readonly number[] };

export interface OnnxNode {
  opType: string;
  name: string;
  inputs: string[];
  outputs: string[];
  /** Numbers become INT attributes; wrap in `{float}` / `{floats}` for FLOAT ones. */
  attributes?: Record<string, AttributeValue>;
}

export interface OnnxInitializer {
  name: string;
  dims: number[];
  /** float32, int64 (shapes), and the quantized model's u8/s8 zero points and weights and int32 biases. */
  data: Float32Array | BigInt64Array | Int8Array | Uint8Array | Int32Array;
}

/** A tensor's declared type: float32 or int64, dims as numbers or symbolic names; no dims = shape left to onnxruntime. */
export interface OnnxValueInfo {
  name: string;
  elemType: number;
  dims?: (number | string)[];
}

export interface OnnxGraph {
  name: string;
  nodes: OnnxNode[];
  initializers: OnnxInitializer[];
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
}

export interface OnnxModel {
  graph: OnnxGraph;
  opsetVersion: number;
  irVersion: number;
  producerName: string;
  producerVersion: string;
}

function encodeAttribute(name: string, value: AttributeValue): Uint8Array {
  const w = new ProtoWriter().string(1, name);
  if (typeof value === 'number') {
    if (!Number.isInteger(value))
      throw new RangeError(`attribute ${name}: integer expected, got ${value}; use {float}`);
    w.int(3, value).int(20, AttributeType.INT);
  } else if (typeof value === 'string') {
    w.string(4, value).int(20, AttributeType.STRING);
  } else if (Array.isArray(value)) {
    w.packedInts(8, value as number[]).int(20, AttributeType.INTS);
  } else if ('float' in value) {
    w.float(2, value.float).int(20, AttributeType.FLOAT);
  } else if ('floats' in value) {
    w.packedFloats(7, value.floats).int(20, AttributeType.FLOATS);
  }
  return w.finish();
}

function encodeNode(node: OnnxNode): Uint8Array {
  const w = new ProtoWriter();
  for (const i of node.inputs) w.string(1, i);
  for (const o of node.outputs) w.string(2, o);
  w.string(3, node.name).string(4, node.opType);
  for (const [k, v] of Object.entries(node.attributes ?? {})) w.message(5, encodeAttribute(k, v));
  return w.finish();
}

/** Each initializer array type's ONNX data type and bytes per value. */
function tensorType(data: OnnxInitializer['data']): [number, number] {
  if (data instanceof Float32Array) return [TensorDataType.FLOAT, 4];
  if (data instanceof BigInt64Array) return [TensorDataType.INT64, 8];
  if (data instanceof Int32Array) return [TensorDataType.INT32, 4];
  if (data instanceof Int8Array) return [TensorDataType.INT8, 1];
  return [TensorDataType.UINT8, 1];
}

function encodeTensor(t: OnnxInitializer): Uint8Array {
  const expected = t.dims.reduce((a, b) => a * b, 1);
  if (t.data.length !== expected) {
    throw new RangeError(`initializer ${t.name}: ${t.data.length} values for dims [${t.dims}]`);
  }
  const [dataType, width] = tensorType(t.data);
  const w = new ProtoWriter().packedInts(1, t.dims);
  w.int(2, dataType);
  w.string(8, t.name);
  // raw_data is little-endian; so is every platform Node runs on that we care about,
  // but be explicit rather than reinterpret the buffer.
  const bytes = new Uint8Array(t.data.length * width);
  const view = new DataView(bytes.buffer);
  const data = t.data;
  if (data instanceof Float32Array) data.forEach((v, i) => view.setFloat32(i * 4, v, true));
  else if (data instanceof BigInt64Array) data.forEach((v, i) => view.setBigInt64(i * 8, v, true));
  else if (data instanceof Int32Array) data.forEach((v, i) => view.setInt32(i * 4, v, true));
  else if (data instanceof Int8Array) bytes.set(new Uint8Array(data.buffer, data.byteOffset, data.length));
  else bytes.set(data);
  return w.bytes(9, bytes).finish();
}

function encodeValueInfo(v: OnnxValueInfo): Uint8Array {
  const tensorWriter = new ProtoWriter().int(1, v.elemType);
  if (v.dims) {
    const shape = new ProtoWriter();
    for (const d of v.dims) {
      const dim = typeof d === 'number' ? new ProtoWriter().int(1, d) : new ProtoWriter().string(2, d);
      shape.message(1, dim.finish());
    }
    tensorWriter.message(2, shape.finish());
  }
  const tensorType = tensorWriter.finish();
  const type = new ProtoWriter().message(1, tensorType).finish();
  return new ProtoWriter().string(1, v.name).message(2, type).finish();
}

function encodeGraph(g: OnnxGraph): Uint8Array {
  const w = new ProtoWriter();
  for (const n of g.nodes) w.message(1, encodeNode(n));
  w.string(2, g.name);
  for (const t of g.initializers) w.message(5, encodeTensor(t));
  for (const i of g.inputs) w.message(11, encodeValueInfo(i));
  for (const o of g.outputs) w.message(12, encodeValueInfo(o));
  return w.finish();
}

/** Serializes a ModelProto. */
export function encodeModel(m: OnnxModel): Uint8Array {
  const opset = new ProtoWriter().string(1, '').int(2, m.opsetVersion).finish();
  return new ProtoWriter()
    .int(1, m.irVersion)
    .string(2, m.producerName)
    .string(3, m.producerVersion)
    .message(7, encodeGraph(m.graph))
    .message(8, opset)
    .finish();
}
