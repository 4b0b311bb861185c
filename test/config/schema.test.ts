import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  compileSchema,
  generateValidatorSource,
  hashSchema,
  schemaText,
} from '../../packages/engine/src/config/schema-compile.ts';
import { schemaHash, validate as precompiled } from '../../packages/engine/src/config/schema-validator.generated.ts';
import { editDistance, closestMatch } from '../../packages/engine/src/config/did-you-mean.ts';

describe('schemas/pipeline.schema.json', () => {
  it('is what the precompiled validator was generated from (regenerate: node --import tsx src/config/schema-compile.ts)', () => {
    assert.equal(schemaHash, hashSchema(schemaText()));
  });

  it('precompiled and run-time compiled validators agree', () => {
    const compiled = compileSchema(schemaText());
    const documents = [
      { stages: { a: { cmd: 'x' } } },
      { stagez: {}, stages: { 'b c': { cmd: '', module: 'm', deps: 'x', heavy: 'yes', params: ['a..b'] } } },
      { stages: {} },
    ];
    for (const document of documents) {
      const validate = precompiled as unknown as typeof compiled;
      assert.equal(validate(document), compiled(document));
      const strip = (errors: typeof compiled.errors) =>
        (errors ?? []).map(({ instancePath, keyword, params }) => ({ instancePath, keyword, params }));
      assert.deepEqual(strip(validate.errors), strip(compiled.errors));
    }
  });

  it('has a description on every stage key, for editors', () => {
    const schema = JSON.parse(schemaText());
    for (const [key, property] of Object.entries(
      schema.definitions.stage.properties as Record<string, { description?: string }>,
    )) {
      assert.ok(property.description, `stage key "${key}" has no description`);
    }
    assert.match(generateValidatorSource(schemaText()), /^\/\/ @ts-nocheck\n/);
  });
});

describe('did you mean', () => {
  it('counts a swapped pair of letters as one edit', () => {
    assert.equal(editDistance('otus', 'outs'), 1);
    assert.equal(editDistance('deps', 'deps'), 0);
    assert.equal(editDistance('', 'abc'), 3);
  });

  it('suggests only plausible typos', () => {
    assert.equal(closestMatch('dep', ['deps', 'outs', 'desc']), 'deps');
    assert.equal(closestMatch('alwaysrun', ['always_run', 'cache']), 'always_run');
    assert.equal(closestMatch('Cache', ['cache', 'heavy']), 'cache');
    assert.equal(closestMatch('zzz', ['deps', 'outs']), undefined);
  });
});
