import { configurePorts, type PlatformConfig, type Ports } from '../lambdas/ports/index.js';
import { cloudContext, type CloudContext } from './cloud-context.js';
import { CLOUD_VARIABLES, CloudConfigurationError, cellsVariable, integerVariable, type CloudEnvironment } from './cloud-environment.js';
import { sqlPort } from './ports/sql.js';

/** The ports a function may be granted beyond the registry (`sql`) and the `config`, each built by its module in `cloud/ports/`. */
export type GrantedPort = Exclude<keyof Ports, 'config' | 'sql'>;

/** Builders of the granted ports: a function's bundle holds only the adapters (and SDK clients) of its own. */
export type PortBuilders = { readonly [P in GrantedPort]?: (context: CloudContext) => Ports[P] };

/**
 * The cloud world's composition root: the config, the registry's sql, and the ports whose builders
 * the function's bundle holds, each built from the Lambda's environment the first time a handler
 * reaches for it. A port the function was not granted fails with a message saying so, and a
 * missing variable is named. SDK clients are created once per execution environment.
 */
export function cloudPorts(builders: PortBuilders, env: CloudEnvironment = process.env): Ports {
  const context = cloudContext(env);
  const all: { readonly [P in keyof Ports]: () => Ports[P] } = {
    config: () => platformConfig(env),
    sql: () => sqlPort(context),
    secrets: granted('secrets'),
    cacheUsers: granted('cacheUsers'),
    compute: granted('compute'),
    appFiles: granted('appFiles'),
    edge: granted('edge'),
    workflows: granted('workflows'),
    events: granted('events'),
    notices: granted('notices'),
    backups: granted('backups'),
  };
  return lazyPorts(all);

  function granted<P extends GrantedPort>(port: P): () => Ports[P] {
    return () => {
      const build = builders[port];
      if (!build) throw new CloudConfigurationError(`this function was not granted the ${port} port (lib/function-access.ts lists what each function may reach)`);
      return build(context) as Ports[P];
    };
  }
}

/** Installs the cloud ports of this execution environment. Called by the installer each bundle is given (see `lib/hostplane-function.ts`). */
export function installCloudPorts(builders: PortBuilders): void {
  configurePorts(cloudPorts(builders));
}

/** A `Ports` whose members are built on first access and kept. */
function lazyPorts(builders: { readonly [P in keyof Ports]: () => Ports[P] }): Ports {
  const built: Partial<Record<keyof Ports, unknown>> = {};
  const ports = {} as Ports;
  for (const key of Object.keys(builders) as (keyof Ports)[]) {
    Object.defineProperty(ports, key, {
      enumerable: true,
      get: () => {
        if (!(key in built)) built[key] = builders[key]();
        return built[key];
      },
    });
  }
  return ports;
}

/** What the handlers know about the platform, from the environment. */
export function platformConfig(env: CloudEnvironment): PlatformConfig {
  const optionalInteger = (variable: 'healthWaitSeconds' | 'backupRetentionDays', max: number) =>
    env[CLOUD_VARIABLES[variable]] === undefined ? undefined : integerVariable(env, variable, 'the platform config', 1, max);
  return {
    environment: cloudContext(env).environment(),
    cells: cellsVariable(env),
    databaseEndpoint: {
      host: env[CLOUD_VARIABLES.databaseHost] ?? 'database.invalid',
      port: Number(env[CLOUD_VARIABLES.databasePort] ?? 5432),
      // The cell's Aurora refuses connections without TLS (rds.force_ssl): tenants verify its certificate.
      tls: true,
    },
    healthWaitSeconds: optionalInteger('healthWaitSeconds', 3600),
    backupRetentionDays: optionalInteger('backupRetentionDays', 3650),
    consoleOrigin: env[CLOUD_VARIABLES.consoleOrigin],
  };
}
