import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import {
  AccessLogFormat,
  CognitoUserPoolsAuthorizer,
  Cors,
  EndpointType,
  GatewayResponse,
  JsonSchemaVersion,
  LambdaIntegration,
  LogGroupLogDestination,
  MethodLoggingLevel,
  type Model,
  RequestValidator,
  ResponseType,
  RestApi,
  type IResource,
  type JsonSchema,
} from 'aws-cdk-lib/aws-apigateway';
import { AccountRecovery, FeaturePlan, Mfa, OAuthScope, StandardThreatProtectionMode, UserPool, type UserPoolClient } from 'aws-cdk-lib/aws-cognito';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { CfnWebACL, CfnWebACLAssociation } from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';
import { z } from 'zod';
import { API_ROUTES } from '../../lambdas/api/routes.js';
import { restoreRequestSchema } from '../../lambdas/backup/backup-operations.js';
import type { FunctionName } from '../../lambdas/functions.js';
import { provisionRequestSchema } from '../../lambdas/domain/tenant-plan.js';
import type { HostplaneFunction } from '../hostplane-function.js';

export interface ControlPlaneApiProps {
  readonly environment: string;
  readonly functions: Readonly<Record<FunctionName, HostplaneFunction>>;
  /**
   * Steady requests per second the whole API admits, and the burst above it.
   * @default { rateLimit: 50, burstLimit: 100 }
   */
  readonly throttling?: { readonly rateLimit: number; readonly burstLimit: number };
  /**
   * Requests one client address may send in five minutes before the web ACL blocks it for a while.
   * @default 3000 (10 a second on average)
   */
  readonly requestsPerAddress?: number;
  /**
   * Where the console is served from, for CORS and the sign-in callback (`https://…`).
   * @default - no browser origin is allowed
   */
  readonly consoleOrigin?: string;
}

/** Request bodies API Gateway checks before a function runs, from the same zod schemas the handlers parse with. */
const REQUEST_MODELS: readonly { method: string; resource: string; name: string; schema: z.ZodType }[] = [
  { method: 'POST', resource: '/tenants', name: 'ProvisionRequest', schema: provisionRequestSchema },
  { method: 'POST', resource: '/tenants/{id}/restore', name: 'RestoreRequest', schema: restoreRequestSchema },
];

/**
 * The operators' REST API: every route of `API_ROUTES` on the function the local API server calls for
 * it, behind a Cognito user pool (the console's operators sign in there), with request validation
 * (path parameters, and bodies that have a schema), stage throttling, access logs and tracing, and
 * a WAF web ACL in front.
 *
 * The stage's throttle is shared by every caller, signed in or not: one noisy address could spend it
 * and lock the operators out. The web ACL limits each address and drops known-bad sources and inputs
 * before they count. AWS's common rule set is left out: its body-size and cross-site-scripting rules
 * would block app definitions, which are large and carry markup.
 */
export class ControlPlaneApi extends Construct {
  public readonly api: RestApi;
  public readonly webAcl: CfnWebACL;
  public readonly userPool: UserPool;
  public readonly userPoolClient: UserPoolClient;

  constructor(scope: Construct, id: string, props: ControlPlaneApiProps) {
    super(scope, id);
    const throttling = props.throttling ?? { rateLimit: 50, burstLimit: 100 };

    this.userPool = new UserPool(this, 'Operators', {
      userPoolName: `hostplane-${props.environment}-operators`,
      // Operators are invited by an administrator; nobody signs themselves up.
      selfSignUpEnabled: false,
      signInAliases: { email: true },
      mfa: Mfa.REQUIRED,
      mfaSecondFactor: { otp: true, sms: false },
      passwordPolicy: { minLength: 12, requireDigits: true, requireLowercase: true, requireUppercase: true, requireSymbols: true, tempPasswordValidity: Duration.days(3) },
      accountRecovery: AccountRecovery.EMAIL_ONLY,
      featurePlan: FeaturePlan.PLUS,
      standardThreatProtectionMode: StandardThreatProtectionMode.FULL_FUNCTION,
      // The operator directory is data: it outlives a stack update gone wrong.
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.userPoolClient = this.userPool.addClient('Console', {
      authFlows: { userSrp: true },
      generateSecret: false,
      preventUserExistenceErrors: true,
      oAuth: {
        flows: { authorizationCodeGrant: true },
        scopes: [OAuthScope.OPENID, OAuthScope.EMAIL],
        callbackUrls: props.consoleOrigin ? [`${props.consoleOrigin}/`] : ['https://localhost/'],
        logoutUrls: props.consoleOrigin ? [`${props.consoleOrigin}/`] : ['https://localhost/'],
      },
      accessTokenValidity: Duration.hours(1),
      idTokenValidity: Duration.hours(1),
    });

    const accessLogs = new LogGroup(this, 'AccessLogs', { retention: RetentionDays.ONE_YEAR, removalPolicy: RemovalPolicy.RETAIN });
    this.api = new RestApi(this, 'Api', {
      restApiName: `hostplane-${props.environment}`,
      description: 'Hostplane control plane: tenants, operations, deployments, backups',
      endpointConfiguration: { types: [EndpointType.REGIONAL] },
      cloudWatchRole: true,
      cloudWatchRoleRemovalPolicy: RemovalPolicy.DESTROY,
      deployOptions: {
        stageName: props.environment,
        throttlingRateLimit: throttling.rateLimit,
        throttlingBurstLimit: throttling.burstLimit,
        loggingLevel: MethodLoggingLevel.ERROR,
        dataTraceEnabled: false,
        tracingEnabled: true,
        accessLogDestination: new LogGroupLogDestination(accessLogs),
        accessLogFormat: AccessLogFormat.jsonWithStandardFields(),
      },
      defaultCorsPreflightOptions: props.consoleOrigin
        ? { allowOrigins: [props.consoleOrigin], allowMethods: Cors.ALL_METHODS, allowHeaders: ['Authorization', 'Content-Type', 'Idempotency-Key'] }
        : undefined,
    });
    const cloudWatchRole = this.api.node.tryFindChild('CloudWatchRole');
    if (cloudWatchRole) {
      Validations.of(cloudWatchRole).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
        reason: "The account's API Gateway logging role, with the policy AWS documents for it: API Gateway writes execution and access logs to log groups it names itself.",
      });
    }
    this.webAcl = this.protectWithWebAcl(props.environment, props.requestsPerAddress ?? 3000);
    const authorizer = new CognitoUserPoolsAuthorizer(this, 'OperatorAuthorizer', { cognitoUserPools: [this.userPool] });
    const validator = new RequestValidator(this, 'Validator', { restApi: this.api, validateRequestBody: true, validateRequestParameters: true });
    if (props.consoleOrigin) {
      // Answers API Gateway gives itself (the authorizer's 401, throttling's 429, WAF's 403) must be
      // readable by the console too, or the browser hides why a call failed.
      for (const type of [ResponseType.DEFAULT_4XX, ResponseType.DEFAULT_5XX]) {
        new GatewayResponse(this, `Cors${type.responseType}`, {
          restApi: this.api,
          type,
          responseHeaders: { 'Access-Control-Allow-Origin': `'${props.consoleOrigin}'`, Vary: "'Origin'" },
        });
      }
    }
    new GatewayResponse(this, 'BadRequestBody', {
      restApi: this.api,
      type: ResponseType.BAD_REQUEST_BODY,
      templates: { 'application/json': '{"error":"Hostplane.Validation","message":"$context.error.validationErrorString"}' },
    });

    for (const route of API_ROUTES) {
      const resource = this.resourceFor(route.resource);
      const pathParameters = [...route.resource.matchAll(/\{(\w+)\}/g)].map((match) => match[1]!);
      const model = REQUEST_MODELS.find((m) => m.method === route.method && m.resource === route.resource);
      resource.addMethod(route.method, new LambdaIntegration(props.functions[route.function]), {
        authorizer,
        requestValidator: validator,
        requestParameters: Object.fromEntries(pathParameters.map((name) => [`method.request.path.${name}`, true])),
        requestModels: model ? { 'application/json': this.model(model.name, model.schema) } : undefined,
      });
    }
  }

  /** The API's URL (the stage's). */
  get url(): string {
    return this.api.url;
  }

  private protectWithWebAcl(environment: string, requestsPerAddress: number): CfnWebACL {
    const visibility = (metricName: string): CfnWebACL.VisibilityConfigProperty => ({
      metricName,
      cloudWatchMetricsEnabled: true,
      sampledRequestsEnabled: true,
    });
    const managed = (name: string, priority: number): CfnWebACL.RuleProperty => ({
      name,
      priority,
      statement: { managedRuleGroupStatement: { vendorName: 'AWS', name } },
      overrideAction: { none: {} },
      visibilityConfig: visibility(name),
    });
    const webAcl = new CfnWebACL(this, 'WebAcl', {
      name: `hostplane-${environment}-api`,
      scope: 'REGIONAL',
      defaultAction: { allow: {} },
      visibilityConfig: visibility(`hostplane-${environment}-api`),
      rules: [
        managed('AWSManagedRulesAmazonIpReputationList', 0),
        {
          name: 'RequestsPerAddress',
          priority: 1,
          statement: { rateBasedStatement: { aggregateKeyType: 'IP', limit: requestsPerAddress, evaluationWindowSec: 300 } },
          action: { block: {} },
          visibilityConfig: visibility('RequestsPerAddress'),
        },
        managed('AWSManagedRulesKnownBadInputsRuleSet', 2),
      ],
    });
    // A REST API is protected stage by stage (arn:…:apigateway:<region>::/restapis/<id>/stages/<stage>).
    new CfnWebACLAssociation(this, 'WebAclAssociation', { resourceArn: this.api.deploymentStage.stageArn, webAclArn: webAcl.attrArn });
    return webAcl;
  }

  private resourceFor(path: string): IResource {
    return path
      .split('/')
      .filter(Boolean)
      .reduce<IResource>((parent, part) => parent.getResource(part) ?? parent.addResource(part), this.api.root);
  }

  private model(name: string, schema: z.ZodType): Model {
    // API Gateway takes the draft in `schema`, not as `$schema`.
    const jsonSchema = z.toJSONSchema(schema, { target: 'draft-4', io: 'input' }) as Record<string, unknown>;
    delete jsonSchema['$schema'];
    return this.api.addModel(name, {
      modelName: name,
      contentType: 'application/json',
      schema: { schema: JsonSchemaVersion.DRAFT4, ...(jsonSchema as JsonSchema) },
    });
  }
}
