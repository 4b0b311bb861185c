/** Writing values into pipeline.yaml text: only the value's characters change. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setParamValues } from '../../packages/engine/src/experiments/param-edit.ts';

const TEXT = `# top comment
params:
  train:
    lr: 0.003        # chosen on validation
    optimizer: adam
  model: { dropout: 0.5, name: "x" }
stages: {}
`;

test('block and flow values are replaced in place; comments and spacing stay', () => {
  const edited = setParamValues(TEXT, [
    ['train.lr', '3e-4'],
    ['model.dropout', '0.2'],
    ['train.optimizer', 'sgd'],
  ]);
  assert.deepEqual(edited, {
    ok: true,
    text: TEXT.replace('0.003', '3e-4').replace('dropout: 0.5', 'dropout: 0.2').replace('adam', 'sgd'),
  });
});

test('a value that would read differently unquoted is quoted', () => {
  const edited = setParamValues(TEXT, [
    ['model.name', 'a: b'],
    ['train.optimizer', 'x,y'],
  ]);
  assert.ok(edited.ok);
  assert.match(edited.text, /name: "a: b" \}/);
  assert.match(edited.text, /optimizer: "x,y"\n/);
});

test('a mapping or a missing key is an error, not a silent edit', () => {
  assert.deepEqual(setParamValues(TEXT, [['train', '1']]).ok, false);
  assert.match(
    (setParamValues(TEXT, [['train.nope', '1']]) as { error: string }).error,
    /param train\.nope is not a single value/,
  );
});
