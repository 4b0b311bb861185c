/**
 * The contract's reference is checked against the types: every export of the package's entry (values and types, as
 * TypeScript sees them) has a section in docs/reference/contract.md, and the page documents nothing that is not exported.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ENTRY = fileURLToPath(new URL('../../packages/engine/src/index.ts', import.meta.url));
const PAGE = new URL('../../docs/reference/contract.md', import.meta.url);

function exportsOfEntry(): string[] {
  const program = ts.createProgram([ENTRY], {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    allowImportingTsExtensions: true,
    noEmit: true,
    types: [],
  });
  const checker = program.getTypeChecker();
  const module = checker.getSymbolAtLocation(program.getSourceFile(ENTRY)!)!;
  return checker
    .getExportsOfModule(module)
    .map((symbol) => symbol.name)
    .sort();
}

test('every export of the package is documented in docs/reference/contract.md, and only those', () => {
  const exported = exportsOfEntry();
  assert.ok(
    exported.includes('defineStage') && exported.includes('StageContext'),
    `exports seen: ${exported.join(', ')}`,
  );
  const documented = [...readFileSync(PAGE, 'utf8').matchAll(/^### `(\w+)`$/gm)].map((match) => match[1]).sort();
  assert.deepEqual(documented, exported);
});
