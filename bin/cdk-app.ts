import { App } from 'aws-cdk-lib';
import { scopeSchema } from '../lambdas/domain/naming.js';
import { ControlPlaneStack } from '../lib/control-plane-stack.js';

const app = new App();

const requested: unknown = app.node.tryGetContext('environment') ?? 'dev';
const environment = scopeSchema.shape.environment.safeParse(requested);
if (!environment.success) {
  const reason = environment.error.issues.map((issue) => issue.message).join('; ');
  console.error(`hostplane: context environment=${JSON.stringify(requested)} is invalid: ${reason}`);
  process.exit(1);
}

new ControlPlaneStack(app, `Hostplane-${environment.data}-ControlPlane`, { environment: environment.data });
