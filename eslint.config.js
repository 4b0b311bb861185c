// Lint: typescript-eslint's recommended type-checked rules over the engine, stages, tests, benchmarks and scripts.
// Formatting is Prettier's (`npm run format`), so no style rules here.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig(
  {
    ignores: [
      'node_modules/',
      'dist/',
      '**/dist/',
      'artifacts/',
      '.pipeline/',
      '.tmp/',
      'packages/engine/src/config/schema-validator.generated.ts',
      'packages/engine/templates/',
    ],
  },
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      globals: globals.node,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // An empty catch must say why the error is ignored, in a comment.
      'no-empty': ['error', { allowEmptyCatch: false }],
      // A leading underscore marks a name kept on purpose (a skipped tuple slot, a parameter an interface requires).
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
          ignoreRestSiblings: true,
        },
      ],
      // Shapes and lists in messages read fine as `1,224,224,3`.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowArray: true }],
      // `async` without `await` is how a method keeps a Promise-returning interface (RunReporter.end, a stage's run()).
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      // Tests read what the CLI printed with --json and what a run wrote (JSON.parse: any); asserting on it is the test.
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      // node:test's test() and describe() return promises the runner itself awaits.
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            {
              from: 'package',
              package: 'node:test',
              name: ['test', 'describe', 'it', 'suite', 'before', 'after', 'beforeEach', 'afterEach'],
            },
          ],
        },
      ],
    },
  },
  {
    files: ['stages/lib/inference/onnx/export.ts'],
    rules: {
      // Keras layer configs are untyped dictionaries in tfjs (getConfig()); the exporter reads them field by field.
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
    },
  },
  // bin/ is plain JavaScript, outside the TypeScript program: the rules that need types are off there.
  { files: ['**/*.js', '**/*.mjs'], extends: [tseslint.configs.disableTypeChecked] },
);
