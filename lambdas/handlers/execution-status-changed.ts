import middy from '@middy/core';
import type { EventBridgeEvent } from 'aws-lambda';
import { ports } from '../ports/index.js';
import { closeEndedExecution, type ExecutionStatusDetail } from '../provision/close-ended-execution.js';

type ExecutionStatusEvent = EventBridgeEvent<'Step Functions Execution Status Change', ExecutionStatusDetail>;

type Closed = Awaited<ReturnType<typeof closeEndedExecution>>;

export function executionStatusChanged(event: ExecutionStatusEvent): Promise<Closed> {
  const { sql, appFiles, edge } = ports();
  return closeEndedExecution(event.detail, sql, appFiles, edge);
}

export const handler = middy<ExecutionStatusEvent, Closed>().handler(executionStatusChanged);
