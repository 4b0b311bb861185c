/** Rules of the params `train` reads (checked by the engine before any stage runs). */
import { defineParams, param } from 'pipeline-ml-engine';
import { OPTIMIZERS, sharedParams } from './lib/stage/shared-params.ts';

export default defineParams({
  'train.optimizer': param.oneOf(OPTIMIZERS, {
    default: 'adam',
    description: 'optimizer of the head (sgd with momentum 0.9)',
  }),
  'train.lr': param.number({
    gt: 0,
    orAuto: true,
    perChoice: OPTIMIZERS,
    optional: true,
    description:
      "learning rate; auto or unset = Keras' default for the optimizer (adam 0.001, adadelta 1.0, sgd 0.01, rmsprop 0.001); a mapping sets it per optimizer",
  }),
  'train.epochs': param.integer({ min: 1, default: 50, description: 'most epochs to train' }),
  'train.batch_size': param.integer({ min: 1, default: 32, description: 'feature rows per training step' }),
  'train.patience': param.integer({
    min: 0,
    default: 0,
    description: 'stop after this many epochs without a better val_loss; 0 = never',
  }),
  'train.seed': param.integer({
    min: 0,
    default: 0,
    description: 'seed of initialisation, shuffling and dropout masks',
  }),
  'model.dropout': sharedParams['model.dropout'],
  'runtime.backend': sharedParams['runtime.backend'],
  'runtime.threads': sharedParams['runtime.threads'],
});
