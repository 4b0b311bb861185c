/**
 * Rules of the params several stages read (the runtime, the head's dropout,
 * test-time flips), declared once; each `<stage>.params.ts` picks the ones its
 * stage reads. Kept free of TF.js and onnxruntime imports: the engine loads
 * these declarations on every `pipeline validate`.
 */
import { param, type ParamRule } from 'pipeline-ml-engine';

export const BACKEND_CHOICES = ['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as const;
export const INFERENCE_CHOICES = ['auto', 'onnx', 'tfjs'] as const;
export const DEVICE_CHOICES = ['auto', 'cpu', 'webgpu', 'cuda'] as const;
export const PRECISION_CHOICES = ['fp32', 'int8'] as const;
/** How build-model calibrates the int8 model's activation ranges (stages/lib/inference/onnx/calibration.ts). */
export const CALIBRATION_METHODS = ['minmax', 'percentile', 'entropy'] as const;
export const OPTIMIZERS = ['adam', 'adadelta', 'sgd', 'rmsprop'] as const;
/** `model.preprocess` names: tf (x/127.5−1; aliases mobilenet, xception), unit (x/255; alias darknet), caffe. */
export const PREPROCESS_NAMES = ['tf', 'unit', 'caffe', 'mobilenet', 'xception', 'darknet'] as const;

export const DEFAULT_DROPOUT = 0.5;

export const sharedParams = {
  'model.dropout': param.number({
    min: 0,
    lt: 1,
    default: DEFAULT_DROPOUT,
    description: 'dropout rate of the head, before its Dense layer',
  }),
  'runtime.backend': param.oneOf(BACKEND_CHOICES, {
    default: 'auto',
    description: 'TF.js backend; auto tries tensorflow-gpu, tensorflow, wasm, cpu in turn',
  }),
  'runtime.inference': param.oneOf(INFERENCE_CHOICES, {
    default: 'auto',
    description: 'backbone runner; auto = onnx when build-model exported it, else tfjs',
  }),
  'runtime.threads': param.integer({
    min: 0,
    default: 0,
    description: 'threads for backbone inference and TF.js WASM; 0 = every core',
  }),
  'runtime.batch_size': param.integer({
    min: 1,
    orAuto: true,
    optional: true,
    description: 'images per backbone pass; auto or unset = 16 on the CPU or a software adapter, 128 on a GPU',
  }),
  'runtime.device': param.oneOf(DEVICE_CHOICES, {
    default: 'auto',
    description:
      "where backbone passes run: auto (a hardware GPU when one exists, else the CPU), cpu, webgpu (any adapter, software too), cuda (onnxruntime's CUDA add-on)",
  }),
  'runtime.precision': param.oneOf(PRECISION_CHOICES, {
    default: 'fp32',
    description:
      "backbone arithmetic: fp32, or int8 (build-model's calibrated QDQ model on onnxruntime's CPU provider; refused on a GPU device)",
  }),
  'data.test_dir': param.path({ what: 'folder', description: 'unlabelled test images, N.jpg' }),
  'data.test_labels': param.optionalPath({
    what: 'file',
    description:
      'id,label CSV of the test images, label = a class name or index (Kaggle: 1 = dog); empty = unlabelled, no test metrics',
  }),
  'runtime.feature_store': param.optionalPath({
    what: 'folder',
    description:
      "per-image feature store (a folder both stages may share); empty = each stage's own cache folder under .pipeline/",
  }),
  'predict.tta_flip': param.flag({
    default: false,
    description: 'also run each test image flipped and average the two predictions',
  }),
} satisfies Record<string, ParamRule>;

/** What every stage that runs backbone passes through the feature store reads (features, test-features). */
export const featurisationParams = {
  'runtime.backend': sharedParams['runtime.backend'],
  'runtime.inference': sharedParams['runtime.inference'],
  'runtime.device': sharedParams['runtime.device'],
  'runtime.threads': sharedParams['runtime.threads'],
  'runtime.batch_size': sharedParams['runtime.batch_size'],
  'runtime.feature_store': sharedParams['runtime.feature_store'],
  'runtime.precision': sharedParams['runtime.precision'],
} satisfies Record<string, ParamRule>;
