/** Any reason a TF.js model cannot be turned into an equivalent ONNX graph. Callers fall back to TF.js. */
export class OnnxExportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OnnxExportError';
  }
}

/** A layer (or a configuration of one) the exporter has no exact ONNX translation for. */
export class UnsupportedLayerError extends OnnxExportError {
  constructor(
    readonly layerName: string,
    readonly className: string,
    readonly reason: string,
  ) {
    super(`cannot export layer '${layerName}' (${className}) to ONNX: ${reason}`);
    this.name = 'UnsupportedLayerError';
  }
}
