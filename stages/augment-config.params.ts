/**
 * Rules of the `augment.*` params (Keras ImageDataGenerator semantics), read by
 * `augment-config` through validateAugmentConfig (stages/lib/data/augment.ts) and
 * checked by the engine before any stage runs. Unknown keys are checked by
 * validateAugmentConfig alone.
 */
import { defineParams, param } from 'pipeline-ml-engine';

export const FILL_MODES = ['nearest', 'constant', 'reflect', 'wrap'] as const;
export const INTERPOLATIONS = ['bilinear', 'nearest'] as const;

export default defineParams({
  'augment.rotation_range': param.number({
    min: 0,
    max: 180,
    default: 0,
    description: 'random rotation up to ± this many DEGREES (Keras 2.0)',
  }),
  'augment.width_shift_range': param.number({
    min: 0,
    lt: 1,
    default: 0,
    description: 'random horizontal shift up to ± this fraction of the width',
  }),
  'augment.height_shift_range': param.number({
    min: 0,
    lt: 1,
    default: 0,
    description: 'random vertical shift up to ± this fraction of the height',
  }),
  'augment.shear_range': param.number({
    min: 0,
    lt: Math.PI / 2,
    default: 0,
    description: "random shear up to ± this angle in RADIANS, as in Keras 2.0 (the notebook's 0.2 ≈ 11.5°)",
  }),
  'augment.shear_degrees': param.number({
    min: 0,
    lt: 90,
    optional: true,
    description: 'the shear angle in degrees instead of shear_range (give one of the two)',
  }),
  'augment.zoom_range': param.number({
    min: 0,
    lt: 1,
    pair: { gt: 0, max: 10 },
    default: 0,
    description:
      'random zoom: z draws factors from [1−z, 1+z], or give [lo, hi]; rows and columns drawn independently (Keras 2.0)',
  }),
  'augment.horizontal_flip': param.flag({ default: false, description: 'flip half the images left-right' }),
  'augment.vertical_flip': param.flag({ default: false, description: 'flip half the images upside down' }),
  'augment.fill_mode': param.oneOf(FILL_MODES, {
    default: 'nearest',
    description: 'how points outside the image are filled',
  }),
  'augment.cval': param.number({ min: 0, max: 255, default: 0, description: 'fill value for fill_mode constant' }),
  'augment.interpolation': param.oneOf(INTERPOLATIONS, {
    default: 'nearest',
    description: 'pixel sampling of the warped image: nearest as Keras 2.0 (scipy order 0), or bilinear',
  }),
  'augment.copies': param.integer({
    min: 0,
    max: 100,
    default: 0,
    description: 'augmented copies featurised per training image (0 = the originals only)',
  }),
  'augment.seed': param.integer({ min: 0, max: 2 ** 32 - 1, default: 0, description: 'seed of the random transforms' }),
});
