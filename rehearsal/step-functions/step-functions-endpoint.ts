import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ServiceError, type Execution, type ExecutionStatus, type StepFunctionsService } from './step-functions-service.js';
import { readBody } from '../emulators/read-body.js';

/**
 * The Step Functions API (awsJson1_0, `X-Amz-Target: AWSStepFunctions.<Operation>`) in front of the
 * rehearsal's executions, for the functions' SFN client (`AWS_ENDPOINT_URL_SFN`): StartExecution,
 * DescribeExecution, StopExecution, ListExecutions.
 */
export async function startStepFunctionsEndpoint(service: StepFunctionsService): Promise<{ endpoint: string; stop(): Promise<void> }> {
  const server: Server = createServer((request, response) => {
    void readBody(request).then((bytes) => {
      const body = bytes.toString('utf8');
      const operation = String(request.headers['x-amz-target'] ?? '').replace(/^AWSStepFunctions\./, '');
      let answer: unknown;
      try {
        answer = operate(service, operation, JSON.parse(body || '{}') as Record<string, unknown>);
      } catch (error) {
        const type = error instanceof ServiceError ? error.type : 'InternalServerError';
        response.writeHead(error instanceof ServiceError ? 400 : 500, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-errortype': type });
        response.end(JSON.stringify({ __type: type, message: error instanceof Error ? error.message : String(error) }));
        return;
      }
      response.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' });
      response.end(JSON.stringify(answer));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function operate(service: StepFunctionsService, operation: string, body: Record<string, unknown>): unknown {
  switch (operation) {
    case 'StartExecution': {
      const name = typeof body.name === 'string' && body.name ? body.name : crypto.randomUUID();
      const execution = service.startExecution(String(body.stateMachineArn), name, typeof body.input === 'string' ? body.input : '{}');
      return { executionArn: execution.executionArn, startDate: seconds(execution.startDate) };
    }
    case 'DescribeExecution':
      return described(service.describeExecution(String(body.executionArn)));
    case 'StopExecution': {
      const execution = service.stopExecution(String(body.executionArn), body.error as string | undefined, body.cause as string | undefined);
      return { stopDate: seconds(execution.stopDate ?? new Date()) };
    }
    case 'ListExecutions':
      return {
        executions: service
          .listExecutions(String(body.stateMachineArn), body.statusFilter as ExecutionStatus | undefined)
          .map((execution) => ({ executionArn: execution.executionArn, stateMachineArn: execution.stateMachineArn, name: execution.name, status: execution.status, startDate: seconds(execution.startDate) })),
      };
    default:
      throw new ServiceError('UnknownOperationException', `the rehearsal's Step Functions does not serve ${operation || 'an unnamed operation'}`);
  }
}

function described(execution: Execution): Record<string, unknown> {
  return {
    executionArn: execution.executionArn,
    stateMachineArn: execution.stateMachineArn,
    name: execution.name,
    status: execution.status,
    startDate: seconds(execution.startDate),
    ...(execution.stopDate ? { stopDate: seconds(execution.stopDate) } : {}),
    input: execution.input,
    ...(execution.output !== undefined ? { output: execution.output } : {}),
    ...(execution.error !== undefined ? { error: execution.error } : {}),
    ...(execution.cause !== undefined ? { cause: execution.cause } : {}),
  };
}

const seconds = (date: Date) => date.getTime() / 1000;
