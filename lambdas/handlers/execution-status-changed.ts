import middy from '@middy/core';
import type { EventBridgeEvent } from 'aws-lambda';
import { ports } from '../ports/index.js';
import { closeEndedExecution, type ExecutionStatusDetail } from '../provision/close-ended-execution.js';

type ExecutionStatusEvent = EventBridgeEvent<'Step Functions Execution Status Change', ExecutionStatusDetail>;

export function executionStatusChanged(event: ExecutionStatusEvent): Promise<{ closed: boolean }> {
  return closeEndedExecution(event.detail, ports().sql);
}

export const handler = middy<ExecutionStatusEvent, { closed: boolean }>().handler(executionStatusChanged);
