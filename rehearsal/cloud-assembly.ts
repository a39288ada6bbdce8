import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** A CloudFormation template as `cdk synth` writes it (only what the rehearsal reads). */
export interface Template {
  readonly Resources: Readonly<Record<string, TemplateResource>>;
  readonly Outputs?: Readonly<Record<string, { readonly Value: unknown; readonly Export?: { readonly Name: unknown } }>>;
}

export interface TemplateResource {
  readonly Type: string;
  readonly Properties?: Readonly<Record<string, unknown>>;
  readonly Metadata?: Readonly<Record<string, unknown>>;
  readonly DependsOn?: string | readonly string[];
}

export interface AssemblyStack {
  readonly stackName: string;
  readonly template: Template;
  /** The stacks this one imports from, deployed before it. */
  readonly dependencies: readonly string[];
}

/** The synthesized app: its stacks in deployment order, and where its assets are. */
export interface CloudAssembly {
  readonly dir: string;
  readonly stacks: readonly AssemblyStack[];
}

interface Manifest {
  readonly artifacts: Readonly<
    Record<string, { readonly type: string; readonly properties?: { readonly templateFile?: string }; readonly dependencies?: readonly string[] }>
  >;
}

/** Reads `manifest.json` and every stack's template from a `cdk synth -o <dir>` output. */
export function readCloudAssembly(dir: string): CloudAssembly {
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
  const stacks = Object.entries(manifest.artifacts)
    .filter(([, artifact]) => artifact.type === 'aws:cloudformation:stack')
    .map(([stackName, artifact]): AssemblyStack => {
      const templateFile = artifact.properties?.templateFile;
      if (!templateFile) throw new Error(`${stackName}: the manifest names no template file`);
      return {
        stackName,
        template: JSON.parse(readFileSync(join(dir, templateFile), 'utf8')) as Template,
        dependencies: (artifact.dependencies ?? []).filter((name) => manifest.artifacts[name]?.type === 'aws:cloudformation:stack'),
      };
    });
  return { dir, stacks: deploymentOrder(stacks) };
}

function deploymentOrder(stacks: readonly AssemblyStack[]): AssemblyStack[] {
  const ordered: AssemblyStack[] = [];
  const visit = (stack: AssemblyStack, path: readonly string[]) => {
    if (ordered.includes(stack)) return;
    if (path.includes(stack.stackName)) throw new Error(`stacks depend on each other: ${[...path, stack.stackName].join(' → ')}`);
    for (const name of stack.dependencies) {
      const dependency = stacks.find((candidate) => candidate.stackName === name);
      if (dependency) visit(dependency, [...path, stack.stackName]);
    }
    ordered.push(stack);
  };
  stacks.forEach((stack) => visit(stack, []));
  return ordered;
}

/** The resources of a type, by logical id. */
export function resourcesOfType(stack: AssemblyStack, type: string): [string, TemplateResource][] {
  return Object.entries(stack.template.Resources).filter(([, resource]) => resource.Type === type);
}

/** The one resource of a type in the stack; fails naming the type when there is none or several. */
export function onlyResourceOfType(stack: AssemblyStack, type: string): [string, TemplateResource] {
  const found = resourcesOfType(stack, type);
  if (found.length !== 1) throw new Error(`${stack.stackName}: expected one ${type}, found ${found.length}`);
  return found[0]!;
}

export function stackNamed(assembly: CloudAssembly, predicate: (stackName: string) => boolean, what: string): AssemblyStack {
  const stack = assembly.stacks.find((candidate) => predicate(candidate.stackName));
  if (!stack) throw new Error(`the cloud assembly in ${assembly.dir} has no ${what} stack (stacks: ${assembly.stacks.map((s) => s.stackName).join(', ')})`);
  return stack;
}
