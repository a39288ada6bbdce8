import type { ApiRoute } from './deployed-control-plane.js';
import type { LambdaService } from './lambda/lambda-service.js';

export interface ApiAnswer {
  readonly statusCode: number;
  readonly body: unknown;
  readonly headers: Readonly<Record<string, string>>;
}

/**
 * API Gateway's REST proxy integration, as the operator's console would reach it: a request is
 * matched to the template's resources and methods, given to the method's function as an
 * `APIGatewayProxyEvent` (the Cognito authorizer's claims included), and its answer read back.
 */
export class ApiClient {
  constructor(
    private readonly routes: readonly ApiRoute[],
    private readonly lambdas: LambdaService,
    private readonly operator = 'ops@example.com',
  ) {}

  async request(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<ApiAnswer> {
    const [pathname = '', query = ''] = path.split('?');
    const match = this.match(method, pathname);
    if (!match) return { statusCode: 403, body: { message: 'Missing Authentication Token' }, headers: {} };
    const event = {
      resource: match.route.resourcePath,
      path: pathname,
      httpMethod: method,
      headers: { 'content-type': 'application/json', ...headers },
      multiValueHeaders: {},
      queryStringParameters: query ? Object.fromEntries(new URLSearchParams(query)) : null,
      multiValueQueryStringParameters: null,
      pathParameters: Object.keys(match.parameters).length ? match.parameters : null,
      stageVariables: null,
      body: body === undefined ? null : JSON.stringify(body),
      isBase64Encoded: false,
      requestContext: {
        resourcePath: match.route.resourcePath,
        httpMethod: method,
        path: `/prod${pathname}`,
        stage: 'prod',
        requestId: crypto.randomUUID(),
        identity: { sourceIp: '127.0.0.1', userAgent: 'hostplane-rehearsal' },
        authorizer: { claims: { sub: 'rehearsal-operator', email: this.operator, 'cognito:username': this.operator } },
      },
    };
    const answer = (await this.lambdas.invoke(match.route.functionArn, event)) as { statusCode: number; body?: string; headers?: Record<string, string> };
    let parsed: unknown = answer.body;
    try {
      parsed = answer.body ? (JSON.parse(answer.body) as unknown) : undefined;
    } catch {
      // not JSON: kept as text
    }
    return { statusCode: answer.statusCode, body: parsed, headers: answer.headers ?? {} };
  }

  private match(method: string, pathname: string): { route: ApiRoute; parameters: Record<string, string> } | undefined {
    const parts = pathname.split('/').filter(Boolean);
    for (const route of this.routes) {
      if (route.method !== method) continue;
      const template = route.resourcePath.split('/').filter(Boolean);
      if (template.length !== parts.length) continue;
      const parameters: Record<string, string> = {};
      const fits = template.every((segment, index) => {
        const name = /^\{(.+)\}$/.exec(segment)?.[1];
        if (name) parameters[name] = decodeURIComponent(parts[index]!);
        return name !== undefined || segment === parts[index];
      });
      if (fits) return { route, parameters };
    }
    return undefined;
  }
}
