import { join } from 'node:path';
import type { AslMachine } from '../local/state-machine-definitions.js';
import { resourcesOfType, type TemplateResource } from './cloud-assembly.js';
import { resolveIntrinsics, resolveString, type StackResolution } from './intrinsics.js';
import type { LambdaFunction } from './lambda/lambda-service.js';
import type { DeployedStack } from './stand-in-account.js';
import type { DeployedStateMachine } from './step-functions/step-functions-service.js';

/** One route of the REST API: method and resource path (`/tenants/{id}`) to the function it proxies to. */
export interface ApiRoute {
  readonly method: string;
  readonly resourcePath: string;
  readonly functionArn: string;
}

/** An EventBridge rule of the template: its pattern and the functions it targets. */
export interface EventRule {
  readonly logicalId: string;
  readonly pattern: unknown;
  readonly targetArns: readonly string[];
}

/** A custom resource the stack creates through one of its functions (CloudFormation invokes it at deploy). */
export interface CustomResource {
  readonly logicalId: string;
  readonly type: string;
  readonly serviceToken: string;
  readonly properties: Readonly<Record<string, unknown>>;
}

export interface DeployedControlPlane {
  readonly functions: readonly LambdaFunction[];
  readonly stateMachines: readonly DeployedStateMachine[];
  readonly apiRoutes: readonly ApiRoute[];
  readonly eventRules: readonly EventRule[];
  readonly customResources: readonly CustomResource[];
}

/** Reads what runs from a deployed stack: its functions (with their assets), state machines, API, rules and custom resources. */
export function readDeployedStack(deployed: DeployedStack, assemblyDir: string): DeployedControlPlane {
  const { stack, resolution } = deployed;
  const functionArn = (logicalId: string) => resolveString({ 'Fn::GetAtt': [logicalId, 'Arn'] }, resolution);

  const functions = resourcesOfType(stack, 'AWS::Lambda::Function').flatMap(([logicalId, resource]): LambdaFunction[] => {
    const assetPath = resource.Metadata?.['aws:asset:path'];
    if (typeof assetPath !== 'string') return []; // inline code (CDK's own helpers): not ours to rehearse
    const props = resource.Properties ?? {};
    const variables = resolveIntrinsics((props.Environment as { Variables?: unknown } | undefined)?.Variables ?? {}, resolution) as Record<string, unknown>;
    return [
      {
        logicalId,
        functionName: resolveString({ Ref: logicalId }, resolution),
        arn: functionArn(logicalId),
        assetDir: join(assemblyDir, assetPath),
        handler: String(props.Handler ?? 'index.handler'),
        environment: Object.fromEntries(Object.entries(variables).map(([name, value]) => [name, String(value)])),
        timeoutSeconds: Number(props.Timeout ?? 3),
        memoryMb: Number(props.MemorySize ?? 128),
      },
    ];
  });

  const stateMachines = resourcesOfType(stack, 'AWS::StepFunctions::StateMachine').map(([logicalId, resource]): DeployedStateMachine => {
    const props = resource.Properties ?? {};
    let definition = resolveString(props.DefinitionString, resolution);
    const substitutions = resolveIntrinsics(props.DefinitionSubstitutions ?? {}, resolution) as Record<string, unknown>;
    for (const [name, value] of Object.entries(substitutions)) definition = definition.replaceAll(`\${${name}}`, String(value));
    const leftover = /\$\{[A-Za-z0-9]+\}/.exec(definition);
    if (leftover) throw new Error(`${logicalId}: ${leftover[0]} has no substitution in the template`);
    return {
      arn: resolveString({ Ref: logicalId }, resolution),
      name: resolveString({ 'Fn::GetAtt': [logicalId, 'Name'] }, resolution),
      definition: JSON.parse(definition) as AslMachine,
    };
  });

  return {
    functions,
    stateMachines,
    apiRoutes: apiRoutes(deployed, functions),
    eventRules: resourcesOfType(stack, 'AWS::Events::Rule').map(([logicalId, resource]) => {
      const props = resolveIntrinsics(resource.Properties ?? {}, resolution) as { EventPattern?: unknown; Targets?: { Arn: string }[] };
      return { logicalId, pattern: props.EventPattern, targetArns: (props.Targets ?? []).map((target) => target.Arn) };
    }),
    customResources: Object.entries(stack.template.Resources)
      .filter(([, resource]) => resource.Type === 'AWS::CloudFormation::CustomResource' || resource.Type.startsWith('Custom::'))
      .map(([logicalId, resource]) => {
        const props = resolveIntrinsics(resource.Properties ?? {}, resolution) as Record<string, unknown>;
        return { logicalId, type: resource.Type, serviceToken: String(props.ServiceToken), properties: props };
      }),
  };
}

function apiRoutes(deployed: DeployedStack, functions: readonly LambdaFunction[]): ApiRoute[] {
  const { stack, resolution } = deployed;
  const resources = new Map(resourcesOfType(stack, 'AWS::ApiGateway::Resource'));
  const pathOf = (resourceId: unknown): string => {
    const logicalId = (resourceId as { Ref?: string } | undefined)?.Ref;
    const resource = logicalId ? resources.get(logicalId) : undefined;
    if (!resource) return ''; // the API's root resource
    return `${pathOf(resource.Properties?.ParentId)}/${String(resource.Properties?.PathPart)}`;
  };
  return resourcesOfType(stack, 'AWS::ApiGateway::Method').flatMap(([, method]: [string, TemplateResource]): ApiRoute[] => {
    const props = method.Properties ?? {};
    const integration = props.Integration as { Type?: string; Uri?: unknown } | undefined;
    if (integration?.Type !== 'AWS_PROXY') return [];
    const uri = resolveString(integration.Uri, resolution);
    const fn = functions.find((candidate) => uri.includes(`/functions/${candidate.arn}/invocations`));
    if (!fn) throw new Error(`${stack.stackName}: an API method integrates ${uri}, which is none of the stack's functions`);
    return [{ method: String(props.HttpMethod), resourcePath: pathOf(props.ResourceId) || '/', functionArn: fn.arn }];
  });
}

/** EventBridge's matching, for the patterns our rules use: exact values, nested objects, arrays of allowed values. */
export function matchesPattern(pattern: unknown, event: unknown): boolean {
  if (Array.isArray(pattern)) return pattern.some((allowed) => allowed === event);
  if (pattern && typeof pattern === 'object') {
    if (!event || typeof event !== 'object') return false;
    return Object.entries(pattern).every(([key, inner]) => matchesPattern(inner, (event as Record<string, unknown>)[key]));
  }
  return pattern === event;
}

export type { StackResolution };
