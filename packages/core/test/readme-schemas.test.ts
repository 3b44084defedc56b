/**
 * The README's "Schemas and contracts" examples compile under strict TypeScript against this
 * source, as written: each ```ts block is its own module (imports included), and an unused
 * @ts-expect-error in them is an error too. Compiled in memory; nothing is written to disk.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');

function schemaExamples(): string[] {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const start = readme.indexOf('### Schemas and contracts');
  if (start < 0) throw new Error('README.md has no "### Schemas and contracts" section');
  const section = readme.slice(start, readme.indexOf('\n### ', start + 1));
  return [...section.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

it('the README schema examples compile with tsc --strict', { timeout: 60_000 }, () => {
  const examples = schemaExamples();
  expect(examples.length).toBeGreaterThanOrEqual(4);
  // Beside the tests, so zod/valibot/arktype resolve from the workspace and the package is ESM (top-level await).
  const files = new Map(examples.map((code, i) => [join(root, 'test', `readme-example-${i + 1}.ts`), code]));
  const options: ts.CompilerOptions = {
    strict: true,
    noUncheckedIndexedAccess: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    noEmit: true,
    skipLibCheck: true,
    types: ['node'],
    paths: { '@switchyard/core': [join(root, 'src', 'index.ts')] },
  };
  const host = ts.createCompilerHost(options);
  const { getSourceFile, fileExists, readFile } = host;
  host.getSourceFile = (name, language, ...rest) => {
    const code = files.get(name);
    return code === undefined ? getSourceFile.call(host, name, language, ...rest) : ts.createSourceFile(name, code, language);
  };
  host.fileExists = (name) => files.has(name) || fileExists.call(host, name);
  host.readFile = (name) => files.get(name) ?? readFile.call(host, name);
  const program = ts.createProgram([...files.keys()], options, host);
  const problems = ts
    .getPreEmitDiagnostics(program)
    .map((d) => ts.formatDiagnostic(d, { getCanonicalFileName: (f) => f, getCurrentDirectory: () => root, getNewLine: () => '\n' }));
  expect(problems).toEqual([]);
});
