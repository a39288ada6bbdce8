import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import ts from 'typescript';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/**
 * Type-checks generated TypeScript sources (path → text) strictly, in memory. They are placed,
 * virtually, in a folder of this package so that `pg`, `ioredis` and `@types/node` resolve from
 * its node_modules as they would for real files. Returns the diagnostics, formatted.
 */
export function typeCheck(sources: Readonly<Record<string, string>>): string[] {
  const base = join(ROOT, '.codegen-type-check');
  const virtual = new Map(Object.entries(sources).map(([path, text]) => [join(base, path), text]));
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    lib: ['lib.es2023.d.ts'],
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    types: ['node'],
    typeRoots: [join(ROOT, 'node_modules/@types')],
    strict: true,
    noUnusedLocals: true,
    noUnusedParameters: true,
    noImplicitReturns: true,
    noFallthroughCasesInSwitch: true,
    noUncheckedIndexedAccess: true,
    exactOptionalPropertyTypes: true,
    isolatedModules: true,
    verbatimModuleSyntax: true,
    esModuleInterop: true,
    skipLibCheck: true,
    noEmit: true,
  };
  const host = ts.createCompilerHost(options, true);
  const fileExists = host.fileExists.bind(host);
  const readFile = host.readFile.bind(host);
  const getSourceFile = host.getSourceFile.bind(host);
  const directoryExists = host.directoryExists?.bind(host);
  const folders = new Set([...virtual.keys()].flatMap((file) => {
    const parts: string[] = [];
    for (let dir = dirname(file); dir.startsWith(base); dir = dirname(dir)) parts.push(dir);
    return parts;
  }));
  host.fileExists = (file) => virtual.has(file) || fileExists(file);
  host.directoryExists = (dir) => folders.has(dir) || (directoryExists ? directoryExists(dir) : true);
  host.realpath = (path) => path;
  host.readFile = (file) => virtual.get(file) ?? readFile(file);
  host.getSourceFile = (file, language, onError, create) => {
    const text = virtual.get(file);
    return text !== undefined ? ts.createSourceFile(file, text, language, true) : getSourceFile(file, language, onError, create);
  };
  const program = ts.createProgram([...virtual.keys()], options, host);
  return ts.getPreEmitDiagnostics(program).map((diagnostic) => {
    const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n');
    if (!diagnostic.file || diagnostic.start === undefined) return message;
    const { line, character } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start);
    return `${diagnostic.file.fileName.slice(base.length + 1)}:${line + 1}:${character + 1}: ${message}`;
  });
}
