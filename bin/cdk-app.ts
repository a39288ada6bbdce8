import { App } from 'aws-cdk-lib';
import { buildHostplane } from '../lib/hostplane-app.js';
import { HostplaneConfigError, parseHostplaneConfig } from '../lib/hostplane-config.js';

const app = new App();

try {
  const config = parseHostplaneConfig(app.node.tryGetContext('hostplane'));
  const region = config.region ?? process.env['CDK_DEFAULT_REGION'];
  if (!region) throw new HostplaneConfigError('no AWS Region: set "region" in the cdk.json context "hostplane", or configure the AWS CLI');
  buildHostplane(app, config, { account: config.account ?? process.env['CDK_DEFAULT_ACCOUNT'], region });
} catch (error) {
  if (!(error instanceof HostplaneConfigError)) throw error;
  console.error(`hostplane: ${error.message}`);
  process.exit(1);
}
