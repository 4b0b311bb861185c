/** The `model:` params (cut layer, input size, preprocessing) of each backbone in ../shared/models, from its SOURCES.md. */
export const SHARED_MODELS: Record<string, { cut_layer: string; input_size: number; preprocess: string }> = {
  'mobilenet_v1_0.25_224': { cut_layer: 'conv_pw_13_relu', input_size: 224, preprocess: 'tf' },
  'mobilenet_v1_0.75_224': { cut_layer: 'conv_pw_13_relu', input_size: 224, preprocess: 'tf' },
  'mobilenet_v1_1.0_dw13_224': { cut_layer: 'conv_dw_13_relu', input_size: 224, preprocess: 'tf' },
  'mobilenet_v2_0.35_224_tm': { cut_layer: 'out_relu', input_size: 224, preprocess: 'tf' },
  darknet_tiny_224: { cut_layer: 'leaky_re_lu_15', input_size: 224, preprocess: 'unit' },
  xception_block13_299: { cut_layer: 'add_12', input_size: 299, preprocess: 'tf' },
};
