import { scopeSchema, type Scope } from '../../lambdas/domain/naming.js';

/**
 * The names a cell's shared resources carry, derived from (environment, cell) only, so several
 * cells and environments live side by side in one account. Tenant names come from
 * `tenantResourceNames` (lambdas/domain/naming.ts); these are their shared parents.
 */
export interface CellNames {
  readonly environment: string;
  readonly cell: string;
  /** `hp-<env>-<cell>`: prefix of physical names (ECS cluster, cache, log groups). At most 25 characters. */
  readonly prefix: string;
  /** `hostplane/<env>/<cell>`: every tenant secret of the cell is named below it. */
  readonly secretPrefix: string;
  /**
   * `hostplane-cell/<env>/<cell>`: the cell's own secrets (database admin, cache control user, origin
   * verify). Outside `secretPrefix`, so a grant on the tenant secrets never reaches them.
   */
  readonly sharedSecretPrefix: string;
  /** The Cloud Map private DNS namespace the tenant services register in. */
  readonly namespace: string;
}

/** Validates the scope (the rules of `scopeSchema`) and derives the cell's names. */
export function cellNames(scope: Scope): CellNames {
  const { environment, cell } = scopeSchema.parse(scope);
  return {
    environment,
    cell,
    prefix: `hp-${environment}-${cell}`,
    secretPrefix: `hostplane/${environment}/${cell}`,
    sharedSecretPrefix: `hostplane-cell/${environment}/${cell}`,
    namespace: `${cell}.${environment}.hostplane.internal`,
  };
}
