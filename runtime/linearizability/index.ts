// Linearizability checking, shared by the simulator and real-cluster tests: record a history,
// then check it against a sequential model.

export { HistoryRecorder, operationsFromEvents } from './history.ts';
export type { ClientId, HistoryEvent, Operation } from './history.ts';
export type { Model, StateEquality, StepResult } from './model.ts';
export { checkOperations } from './checker.ts';
export type { CheckOptions, CheckResult, IllegalResult, OkResult, UnknownResult } from './checker.ts';
export { kvModel } from './kv-model.ts';
export type { KvInput, KvOperation, KvOutput, KvState } from './kv-model.ts';
