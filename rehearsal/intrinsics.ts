/**
 * CloudFormation's intrinsic functions, resolved as a deployment would: `Ref`, `Fn::GetAtt`,
 * `Fn::Join`, `Fn::Sub`, `Fn::Select`, `Fn::Split`, `Fn::GetAZs`, `Fn::ImportValue` and the pseudo parameters,
 * against the physical ids the rehearsal's stand-in account gave each resource.
 */

export interface AccountLocation {
  readonly accountId: string;
  readonly region: string;
  readonly partition: string;
  readonly urlSuffix: string;
}

/** What a resource is once "deployed": its `Ref` and the attributes `Fn::GetAtt` reads. */
export interface PhysicalResource {
  readonly ref: string;
  readonly attributes?: Readonly<Record<string, string>>;
}

export interface StackResolution {
  readonly stackName: string;
  readonly location: AccountLocation;
  /** Logical id → what was created; a resource missing here fails the resolution, naming it. */
  readonly resources: ReadonlyMap<string, PhysicalResource>;
  /** Export name → value, from the stacks deployed before. */
  readonly exports: ReadonlyMap<string, string>;
}

export class UnresolvedReference extends Error {
  constructor(stackName: string, what: string) {
    super(`${stackName}: cannot resolve ${what}: the rehearsal's account has no such resource`);
    this.name = 'UnresolvedReference';
  }
}

type Json = string | number | boolean | null | readonly Json[] | { readonly [key: string]: Json };

/** Resolves every intrinsic inside `value` (a template fragment) to plain JSON. */
export function resolveIntrinsics(value: unknown, stack: StackResolution): Json {
  if (Array.isArray(value)) return value.map((item) => resolveIntrinsics(item, stack));
  if (value === null || typeof value !== 'object') return value as Json;
  const entries = Object.entries(value);
  if (entries.length === 1) {
    const [name, argument] = entries[0]!;
    if (name === 'Ref') return ref(String(argument), stack);
    if (name.startsWith('Fn::')) return intrinsic(name, argument, stack);
  }
  return Object.fromEntries(entries.map(([key, item]) => [key, resolveIntrinsics(item, stack)]));
}

/** Resolves a fragment that must come out as a string (an environment variable, an ARN). */
export function resolveString(value: unknown, stack: StackResolution): string {
  const resolved = resolveIntrinsics(value, stack);
  if (typeof resolved === 'string') return resolved;
  if (typeof resolved === 'number' || typeof resolved === 'boolean') return String(resolved);
  throw new Error(`${stack.stackName}: expected a string, got ${JSON.stringify(resolved)}`);
}

function ref(name: string, stack: StackResolution): string {
  const { location } = stack;
  const pseudo: Record<string, string> = {
    'AWS::AccountId': location.accountId,
    'AWS::Region': location.region,
    'AWS::Partition': location.partition,
    'AWS::URLSuffix': location.urlSuffix,
    'AWS::StackName': stack.stackName,
    'AWS::NoValue': '',
  };
  if (name in pseudo) return pseudo[name]!;
  const resource = stack.resources.get(name);
  if (!resource) throw new UnresolvedReference(stack.stackName, `Ref ${name}`);
  return resource.ref;
}

function getAtt(logicalId: string, attribute: string, stack: StackResolution): string {
  const value = stack.resources.get(logicalId)?.attributes?.[attribute];
  if (value === undefined) throw new UnresolvedReference(stack.stackName, `Fn::GetAtt ${logicalId}.${attribute}`);
  return value;
}

function intrinsic(name: string, argument: unknown, stack: StackResolution): Json {
  switch (name) {
    case 'Fn::GetAtt': {
      const [logicalId, attribute] = Array.isArray(argument) ? argument : String(argument).split(/\.(.*)/);
      return getAtt(String(logicalId), String(attribute), stack);
    }
    case 'Fn::Join': {
      const [separator, parts] = argument as [string, unknown];
      const list = resolveIntrinsics(parts, stack);
      if (!Array.isArray(list)) throw new Error(`${stack.stackName}: Fn::Join of ${JSON.stringify(list)}`);
      return list.map((part) => String(part)).join(separator);
    }
    case 'Fn::Sub': {
      const [text, variables] = Array.isArray(argument) ? (argument as [string, Record<string, unknown>]) : [String(argument), {}];
      return text.replace(/\$\{([^}!][^}]*)\}/g, (_, expression: string) => {
        if (Object.hasOwn(variables, expression)) return resolveString(variables[expression], stack);
        const [logicalId, attribute] = expression.split(/\.(.*)/, 2);
        return attribute ? getAtt(logicalId!, attribute, stack) : ref(expression, stack);
      });
    }
    case 'Fn::Select': {
      const [index, list] = argument as [unknown, unknown];
      const items = resolveIntrinsics(list, stack);
      if (!Array.isArray(items)) throw new Error(`${stack.stackName}: Fn::Select from ${JSON.stringify(items)}`);
      return items[Number(resolveIntrinsics(index, stack))] ?? null;
    }
    case 'Fn::Split': {
      const [separator, text] = argument as [string, unknown];
      return resolveString(text, stack).split(separator);
    }
    case 'Fn::GetAZs':
      return ['a', 'b', 'c'].map((zone) => `${stack.location.region}${zone}`);
    case 'Fn::ImportValue': {
      const exportName = resolveString(argument, stack);
      const value = stack.exports.get(exportName);
      if (value === undefined) throw new UnresolvedReference(stack.stackName, `Fn::ImportValue ${exportName}`);
      return value;
    }
    default:
      throw new Error(`${stack.stackName}: the rehearsal does not resolve ${name}`);
  }
}
