// The determinism lint rule is part of the architecture: prove it fires where it must and only there.
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const eslint = new ESLint({ cwd: process.cwd() });

async function ruleIds(code: string, filePath: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? []).map((m) => `${m.ruleId}:${m.line}`);
}

const forbidden = [
  'export const a = Date.now();',
  'export const b = Math.random();',
  'setTimeout(() => {}, 1);',
  'setInterval(() => {}, 1);',
  'export const c = performance.now();',
  'export const d = crypto.randomUUID();',
  'export const e = new Date();',
].join('\n');

describe('determinism lint rule', () => {
  it('forbids real time, timers and randomness outside the Env module', async () => {
    expect(await ruleIds(forbidden, 'actors/chainfire/core/example.ts')).toEqual([
      'no-restricted-properties:1',
      'no-restricted-properties:2',
      'no-restricted-globals:3',
      'no-restricted-globals:4',
      'no-restricted-properties:5',
      'no-restricted-properties:6',
      'no-restricted-syntax:7',
    ]);
  });

  it('allows them in the real Env, the one place that owns them', async () => {
    expect(await ruleIds(forbidden, 'runtime/env/real-env.ts')).toEqual([]);
  });
});
