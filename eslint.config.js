// Lint policy: the type checker catches type errors; ESLint guards the project's own rules.
// The main one: time, timers and randomness come only from the runtime's Env (runtime/env/),
// so that the deterministic simulator controls every source of nondeterminism.
import tseslint from 'typescript-eslint';

const nondeterminism = {
  globals: [
    { name: 'setTimeout', message: 'Use env.setTimer (runtime/env) so the simulator controls time.' },
    { name: 'setInterval', message: 'Use env timers or ctx.timers so the simulator controls time.' },
    { name: 'setImmediate', message: 'Use env.yieldThen (runtime/env) so the simulator orders events.' },
  ],
  properties: [
    { object: 'Date', property: 'now', message: 'Use env.now() (runtime/env).' },
    { object: 'Math', property: 'random', message: 'Use env.random() (runtime/env), which is seeded in simulation.' },
    { object: 'performance', property: 'now', message: 'Use env.monotonicNow() (runtime/env).' },
    { object: 'crypto', property: 'randomUUID', message: 'Use env.newId() (runtime/env).' },
  ],
};

export default tseslint.config(
  { ignores: ['node_modules/**', '.ultracloud/**', 'coverage/**'] },
  {
    files: ['**/*.ts', '**/*.js'],
    languageOptions: { parser: tseslint.parser, ecmaVersion: 'latest', sourceType: 'module' },
    plugins: { '@typescript-eslint': tseslint.plugin },
    rules: {
      'no-restricted-globals': ['error', ...nondeterminism.globals],
      'no-restricted-properties': ['error', ...nondeterminism.properties],
      'no-restricted-syntax': ['error',
        { selector: "NewExpression[callee.name='Date'][arguments.length=0]", message: 'Use env.now() (runtime/env).' },
        { selector: "CallExpression[callee.object.name='console']", message: 'Use the pino logger (runtime/log).' },
      ],
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-floating-promises': 'off',
      'no-debugger': 'error',
      'no-var': 'error',
      'prefer-const': 'error',
      eqeqeq: ['error', 'always', { null: 'ignore' }],
    },
  },
  {
    // The Env module is the one place allowed to touch real time and randomness.
    files: ['runtime/env/real-env.ts'],
    rules: { 'no-restricted-globals': 'off', 'no-restricted-properties': 'off', 'no-restricted-syntax': 'off' },
  },
  {
    // Benchmarks measure real time; end-to-end tests drive real processes on real time.
    files: ['test/bench/**', 'test/e2e/**'],
    rules: { 'no-restricted-globals': 'off', 'no-restricted-properties': 'off', 'no-restricted-syntax': 'off' },
  },
);
