import middy from '@middy/core';
import type { EventBridgeEvent } from 'aws-lambda';
import { errorMessage, ErrorNames } from '../domain/errors.js';
import type { AppDefinitionChangedDetail } from '../deploy/app-definition-changed.js';
import { requestDeployment } from '../deploy/request-deployment.js';
import { ports } from '../ports/index.js';

type AppDefinitionChangedEvent = EventBridgeEvent<'App Definition Changed', AppDefinitionChangedDetail>;

/**
 * An app definition changed: deploy it, with no person in the loop. The event's id is the
 * idempotency key, so a redelivered event starts no second deployment. A refused event is
 * answered (and logged) rather than retried: the same definition would be refused again.
 */
export async function appDefinitionChanged(event: AppDefinitionChangedEvent) {
  const { sql, workflows } = ports();
  const { tenantId, definition, allowDestructive, changedBy } = event.detail;
  try {
    const { deployment, created } = await requestDeployment(
      tenantId,
      { definition, ...(allowDestructive === undefined ? {} : { allowDestructive }) },
      { idempotencyKey: `event:${event.id}`.slice(0, 128), requestedBy: changedBy ?? `event:${event.source}` },
      sql,
      workflows,
    );
    return { started: created, deploymentId: deployment.deploymentId, operationId: deployment.operationId };
  } catch (error) {
    // Worth EventBridge's retry: the database or the workflow engine was briefly unavailable.
    if ((error as Error | undefined)?.name === ErrorNames.transient) throw error;
    const reason = errorMessage(error);
    console.error(`app definition change for ${String(tenantId)} not deployed: ${reason}`);
    return { started: false, reason };
  }
}

export const handler = middy<AppDefinitionChangedEvent, Awaited<ReturnType<typeof appDefinitionChanged>>>().handler(appDefinitionChanged);
