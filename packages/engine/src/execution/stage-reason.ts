/**
 * Why a stage does what it does, as values: staleness found against the lock,
 * flags, and the state of its upstream stages. `logging/reason-text.ts` turns
 * them into the words users read; tests and callers branch on `kind`.
 */
export type StageReason =
  | { kind: 'up-to-date' }
  | { kind: 'never-run' }
  | { kind: 'forced' }
  | { kind: 'always-run' }
  | { kind: 'param-added'; key: string; value: unknown }
  /** One changed leaf: a mapping param is compared key by key (`aug.flip`). */
  | { kind: 'param-changed'; key: string; before: unknown; after: unknown }
  | { kind: 'param-dropped'; key: string }
  | { kind: 'command-changed' }
  | { kind: 'module-to-command'; module: string }
  | { kind: 'command-to-module' }
  | { kind: 'module-changed'; before: string; after: string }
  | { kind: 'code-changed'; path: string; how: 'edited' | 'newly-imported' | 'no-longer-imported' }
  /** The module runner or the stage contract changed (an engine update). */
  | { kind: 'runner-changed' }
  | { kind: 'dep'; change: 'added' | 'missing' | 'changed' | 'removed'; path: string }
  | { kind: 'out'; change: 'added' | 'missing' | 'modified' | 'removed'; path: string }
  /** Nothing listed differs, yet the hash does: the lock was written by another engine version. */
  | { kind: 'fingerprint-changed' }
  | {
      kind: 'upstream';
      stage: string;
      state: 'will-run' | 'will-be-restored' | 'failed' | 'did-not-run' | 'did-not-finish';
    }
  | { kind: 'interrupted' }
  /** Fail fast: another stage's failure stopped this one. */
  | { kind: 'cancelled'; failedStage: string }
  | { kind: 'not-reached' };
