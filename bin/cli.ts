import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { CliError } from './cli/api-client.js';
import { registerBackupCommands } from './cli/backup-commands.js';
import { registerDeployCommands } from './cli/deploy-commands.js';
import { registerDoctorCommand } from './cli/doctor-command.js';
import { registerStartCommand } from './cli/start-command.js';
import { registerTenantCommands } from './cli/tenant-commands.js';

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new InvalidArgumentError('a port is a whole number from 0 to 65535');
  return port;
}

const program = new Command('hostplane')
  .description('Hostplane: provision, deploy and deprovision the tenants of a hybrid-tenant SaaS platform')
  .option('--state-dir <dir>', 'folder of the local control plane', process.env.HOSTPLANE_STATE_DIR ?? '.hostplane')
  .option('--api <url>', 'control-plane API to talk to (default: the running local one)')
  .exitOverride()
  .showHelpAfterError();

registerStartCommand(program, parsePort);
registerBackupCommands(registerTenantCommands(program));
registerDeployCommands(program);
registerDoctorCommand(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) process.exit(error.exitCode);
  if (error instanceof CliError) {
    console.error(`hostplane: ${error.message}`);
    process.exit(error.exitCode);
  }
  console.error(`hostplane: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
