import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { describeNumber, ParamError, readParams } from '../../../stages/lib/stage/params.ts';
import { readSplitParams } from '../../../stages/split.ts';
import { readHyperparameters } from '../../../stages/train.ts';

const ROOT = path.resolve('/project');
const reader = (params: Record<string, unknown>, stage = 'train') => readParams({ params, root: ROOT, stage });

test('number: bounds, numeric strings, and errors that name key, rule and value', () => {
  const p = reader({ 'train.lr': 'abc', 'model.dropout': '0.5x', ok: '0.25', yes: true, inf: Infinity, zero: 0 });
  assert.throws(() => p.number('train.lr', { gt: 0 }), {
    name: 'ParamError',
    message: 'train.lr must be a number > 0, got "abc"',
  });
  assert.throws(() => p.number('model.dropout', { min: 0, lt: 1 }), {
    message: 'model.dropout must be a number in [0, 1), got "0.5x"',
  });
  assert.equal(p.number('ok', { min: 0, lt: 1 }), 0.25);
  assert.throws(() => p.number('yes'), { message: 'yes must be a number, got true' }, 'a boolean is not 1');
  assert.throws(() => p.number('inf'), { message: 'inf must be a number, got Infinity' });
  assert.throws(() => p.number('zero', { gt: 0 }), { message: 'zero must be a number > 0, got 0' });
  assert.equal(p.number('zero', { min: 0 }), 0);
});

test('integer and positiveInt reject fractions and values out of range', () => {
  const p = reader({ 'train.epochs': 1.5, 'runtime.batch_size': 0, 'data.seed': -1, n: '12' });
  assert.throws(() => p.positiveInt('train.epochs'), { message: 'train.epochs must be an integer ≥ 1, got 1.5' });
  assert.throws(() => p.positiveInt('runtime.batch_size'), {
    message: 'runtime.batch_size must be an integer ≥ 1, got 0',
  });
  assert.throws(() => p.integer('data.seed', { min: 0, max: 10 }), {
    message: 'data.seed must be an integer in [0, 10], got -1',
  });
  assert.equal(p.positiveInt('n'), 12);
});

test('an unset value takes the default, or fails when there is none', () => {
  const p = reader({ 'train.lr': null, 'train.epochs': '', 'train.optimizer': null });
  assert.equal(p.number('train.lr', { gt: 0, default: 0.001 }), 0.001);
  assert.equal(p.positiveInt('train.epochs', { default: 50 }), 50);
  assert.equal(p.oneOf('train.optimizer', ['adam', 'sgd'], { default: 'adam' }), 'adam');
  assert.throws(() => p.number('train.lr', { gt: 0 }), { message: 'train.lr must be a number > 0, got null' });
  assert.throws(() => p.positiveInt('train.epochs'), { message: 'train.epochs must be an integer ≥ 1, got ""' });
  assert.equal(p.isSet('train.lr'), false);
});

test('a key the stage did not declare is an error saying to declare it, even with a default', () => {
  const p = reader({ 'train.lr': 0.1 });
  const undeclared = {
    name: 'ParamError',
    message:
      'stage "train" reads param train.momentum but does not declare it: add train.momentum to the params: list of stage "train" in pipeline.yaml',
  };
  assert.throws(() => p.number('train.momentum', { default: 0.9 }), undeclared);
  assert.throws(() => p.flag('train.momentum'), undeclared);
  assert.throws(() => p.isSet('train.momentum'), undeclared);
  assert.throws(() => p.parse('train.momentum', (v) => v), undeclared);
  assert.throws(
    () => p.value('train.momentum'),
    (err: unknown) => err instanceof ParamError && err.key === 'train.momentum',
  );
});

test('a declared subtree holds its keys; a key missing inside it is unset', () => {
  const p = reader({ train: { lr: 0.1, nested: { depth: 2 } } });
  assert.equal(p.number('train.lr'), 0.1);
  assert.equal(p.integer('train.nested.depth'), 2);
  assert.equal(p.positiveInt('train.epochs', { default: 7 }), 7);
  assert.deepEqual(p.value('train'), { lr: 0.1, nested: { depth: 2 } });
  assert.throws(() => p.positiveInt('train.epochs'), { message: 'train.epochs must be an integer ≥ 1, got nothing' });
});

test('flag accepts true/false and 1/0, unset is false (or the default), anything else fails', () => {
  const p = reader({ a: true, b: false, c: 1, d: 0, e: null, f: 'yes', g: 'true' });
  assert.deepEqual(
    [p.flag('a'), p.flag('b'), p.flag('c'), p.flag('d'), p.flag('e')],
    [true, false, true, false, false],
  );
  assert.equal(p.flag('e', { default: true }), true);
  assert.throws(() => p.flag('f'), { message: 'f must be true or false, got "yes"' });
  assert.throws(() => p.flag('g'), { message: 'g must be true or false, got "true"' });
});

test('oneOf lists the choices; string refuses empty and non-strings', () => {
  const p = reader({ 'train.optimizer': 'adamw', name: 'x', empty: ' ', num: 3 });
  assert.throws(() => p.oneOf('train.optimizer', ['adam', 'adadelta']), {
    message: 'train.optimizer must be one of adam, adadelta, got "adamw"',
  });
  assert.equal(p.oneOf('name', ['x', 'y']), 'x');
  assert.equal(p.string('name'), 'x');
  assert.throws(() => p.string('empty'), { message: 'empty must be a non-empty string, got " "' });
  assert.throws(() => p.string('num', { describe: 'a layer name' }), { message: 'num must be a layer name, got 3' });
});

test('path and optionalPath resolve against the project root', () => {
  const p = reader({ dir: 'data/train', abs: '/elsewhere/x', none: '', off: false, bad: 3, missing: null });
  assert.equal(p.path('dir', 'folder'), path.join(ROOT, 'data/train'));
  assert.equal(p.path('abs'), path.resolve('/elsewhere/x'));
  assert.throws(() => p.path('none', 'folder'), {
    message: 'none must be a folder path (relative to the project root), got ""',
  });
  assert.equal(p.optionalPath('dir'), path.join(ROOT, 'data/train'));
  assert.equal(p.optionalPath('none'), undefined);
  assert.equal(p.optionalPath('off'), undefined);
  assert.equal(p.optionalPath('missing'), undefined);
  assert.throws(() => p.optionalPath('bad', 'file'), {
    message: 'bad must be a file path (relative to the project root), or empty for none, got 3',
  });
});

test('describeNumber spells the rule', () => {
  assert.equal(describeNumber({}), 'a number');
  assert.equal(describeNumber({ gt: 0 }), 'a number > 0');
  assert.equal(describeNumber({ min: 0 }, true), 'an integer ≥ 0');
  assert.equal(describeNumber({ lt: 1 }), 'a number < 1');
  assert.equal(describeNumber({ max: 1 }), 'a number ≤ 1');
  assert.equal(describeNumber({ gt: 0, lt: 1 }), 'a number in (0, 1)');
  assert.equal(describeNumber({ min: 0, max: 1 }), 'a number in [0, 1]');
});

test('stages read through it: train hyperparameters and split params', () => {
  const train = {
    'train.optimizer': 'adadelta',
    'train.lr': 1,
    'train.epochs': 3,
    'train.batch_size': 8,
    'train.patience': 0,
    'train.seed': 1,
    'model.dropout': 0.2,
  };
  const ctx = (params: Record<string, unknown>) => ({ params, root: ROOT, stage: 'train' });
  assert.deepEqual(readHyperparameters(ctx(train)), {
    optimizer: 'adadelta',
    lr: 1,
    lrSource: 'train.lr',
    epochs: 3,
    batchSize: 8,
    dropout: 0.2,
    patience: 0,
    seed: 1,
  });
  assert.equal(
    readHyperparameters(ctx({ ...train, 'train.lr': { adam: 0.003 } })).lr,
    1,
    "adadelta without its own lr: Keras' 1.0",
  );
  assert.throws(
    () => readHyperparameters(ctx({ ...train, 'model.dropout': '0.5x' })),
    /model\.dropout must be a number in \[0, 1\), got "0\.5x"/,
  );
  assert.throws(
    () => readHyperparameters(ctx({ ...train, 'model.dropout': 1 })),
    /model\.dropout must be a number in \[0, 1\), got 1/,
  );
  assert.throws(
    () => readHyperparameters(ctx({ ...train, 'train.optimizer': 'adamw' })),
    /train\.optimizer must be one of adam, adadelta, sgd, rmsprop, got "adamw"/,
  );
  const { 'train.seed': _seed, ...undeclared } = train;
  assert.throws(() => readHyperparameters(ctx(undeclared)), /add train\.seed to the params: list of stage "train"/);

  const splitCtx = (over: Record<string, unknown>) => ({
    params: {
      'data.train_dir': 'data/train',
      'data.classes': null,
      'data.val_fraction': 0.1,
      'data.seed': null,
      'data.test_labels': '',
      ...over,
    },
    root: ROOT,
    stage: 'split',
  });
  const split = readSplitParams(splitCtx({}));
  assert.deepEqual(split, {
    trainDir: path.join(ROOT, 'data/train'),
    classes: undefined,
    valFraction: 0.1,
    seed: 0,
    testLabels: undefined,
  });
  assert.deepEqual(
    readSplitParams(splitCtx({ 'data.classes': ['katze', 'hund'], 'data.test_labels': 'l.csv' })).classes,
    ['katze', 'hund'],
  );
  assert.equal(readSplitParams(splitCtx({ 'data.test_labels': 'l.csv' })).testLabels, path.join(ROOT, 'l.csv'));
  for (const bad of [['katze'], ['a', 'a'], ['a', ''], 'katze', [1, 2]]) {
    assert.throws(
      () => readSplitParams(splitCtx({ 'data.classes': bad })),
      /data\.classes must be a list of 2 or more distinct names, or empty, got /,
      JSON.stringify(bad),
    );
  }
});
