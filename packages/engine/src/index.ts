/**
 * The package's entry: the stage contract, what a stage module and its params
 * file import (`import { defineStage, param } from 'pipeline-ml-engine'`).
 * The CLI is bin/pipeline.js; nothing else of the engine is public.
 */
export * from './contract.ts';
// What a stage needs to read its params through the rules it declared (checkParam comes with the contract).
export {
  describeNumber,
  describeRule,
  isUnset,
  showValue,
  type ChoiceRule,
  type FlagRule,
  type NumberRule,
  type PathRule,
  type TextRule,
} from './param-rules.ts';
