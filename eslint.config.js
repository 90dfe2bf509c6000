// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', '.cache/**', 'proxy/api/generated/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': [
        'error',
        { selector: "CallExpression[callee.property.name='only']", message: 'no .only left behind' },
        { selector: "CallExpression[callee.property.name='skip']", message: 'no .skip left behind' },
      ],
    },
  },
  {
    // node:http's ES module facade loads undici on import (25-35 ms of every start): the
    // proxy takes node:http and node:https from proxy/runtime/http.ts; types may be imported.
    files: ['proxy/**/*.ts'],
    ignores: ['proxy/**/*.test.ts', 'proxy/**/*.bench.ts', 'proxy/**/*.testkit.ts', 'proxy/**/testing.ts', 'proxy/bench/**'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        ...['node:http', 'node:https'].map((name) => ({ name, allowTypeImports: true, message: 'take http and https from proxy/runtime/http.ts' })),
      ],
    },
  },
  {
    // The model is pure: it imports nothing from sources, sinks, backends or runtime, and no I/O.
    files: ['proxy/model/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['**/sources/**', '**/sinks/**', '**/backends/**', '**/runtime/**'], message: 'proxy/model is pure' },
            { group: ['node:fs*', 'node:net', 'node:child_process', 'node:http*', 'execa', 'zx'], message: 'proxy/model does no I/O' },
          ],
        },
      ],
    },
  },
  {
    // The harness may use the model's types, never the proxy's internals; it runs the proxy as a program.
    files: ['harness/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['**/proxy/sources/**', '**/proxy/backends/**', '**/proxy/runtime/**', '**/proxy/sinks/**'], message: 'harness runs the proxy as a program' }] },
      ],
    },
  },
);
