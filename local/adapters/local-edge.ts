/**
 * Local edge: the routes the front door serves, and the tenants' static-asset folders.
 *
 * Layout under `stateDir`:
 *   edge/routes.json             every route, rewritten atomically on each change
 *   assets/<assetsBucket>/       a tenant's static assets, laid out like the bucket's keys: the
 *                                current release's front end (`index.html`, `app.js`, …), which the
 *                                front door serves as CloudFront serves the bucket
 */
import { readFileSync, type Dirent } from 'node:fs';
import { mkdir, readdir, rename, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { z } from 'zod';
import { checkReleaseId } from '../../lambdas/deploy/releases.js';
import { PermanentError, ValidationError } from '../../lambdas/domain/errors.js';
import { publishingOrder, type StaticAssetFiles } from '../../lambdas/domain/static-assets.js';
import type { EdgePort, StaticAssetsPublished, TenantRoute } from '../../lambdas/ports/edge.js';

export interface LocalEdgeOptions {
  /** Folder for the routes file and the static-asset folders. */
  readonly stateDir: string;
  /** Tenants are served at `<label>.<baseDomain>`. @default 'localhost' */
  readonly baseDomain?: string;
  /** The front door's port, known once it listens. */
  readonly port: () => number;
}

const DNS_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const BUCKET_NAME = /^[a-z0-9](?:[a-z0-9.-]{1,61}[a-z0-9])$/;
const BUCKET_PREFIX = /^[a-z0-9.-]{0,63}$/;

const routeSchema = z.object({
  tenantId: z.string().regex(DNS_LABEL, 'must be a DNS label'),
  hostLabel: z.string().regex(DNS_LABEL, 'must be a DNS label'),
  endpoint: z.string().regex(/^(?:[a-z0-9.-]+|\[[0-9a-f:.]+\]):\d{1,5}$/i, 'must be host:port'),
  assetsBucket: z.string().regex(BUCKET_NAME, 'must be a bucket name').refine((name) => !name.includes('..'), 'must be a bucket name'),
});

const routesFileSchema = z.object({ routes: z.array(routeSchema) });

export class LocalEdge implements EdgePort {
  readonly baseDomain: string;
  private readonly stateDir: string;
  private readonly port: () => number;
  private readonly routes = new Map<string, TenantRoute>();
  private readonly removalListeners: ((route: TenantRoute) => void)[] = [];
  private readonly staleListeners: ((route: TenantRoute) => void)[] = [];
  /** Writes of the routes file, one after another; each writes the routes as they are then. */
  private saving: Promise<void> = Promise.resolve();

  constructor(options: LocalEdgeOptions) {
    this.stateDir = resolve(options.stateDir);
    this.baseDomain = (options.baseDomain ?? 'localhost').toLowerCase();
    this.port = options.port;
    for (const route of this.load()) this.routes.set(route.hostLabel, route);
  }

  async ensureStaticAssets(assetsBucket: string): Promise<void> {
    await mkdir(this.assetsFolder(assetsBucket), { recursive: true });
  }

  async removeStaticAssets(assetsBucket: string): Promise<boolean> {
    const existed = await this.staticAssetsExist(assetsBucket);
    await rm(this.assetsFolder(assetsBucket), { recursive: true, force: true });
    return existed;
  }

  async staticAssetsExist(assetsBucket: string): Promise<boolean> {
    try {
      return (await stat(this.assetsFolder(assetsBucket))).isDirectory();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw error;
    }
  }

  async listStaticAssets(prefix: string): Promise<string[]> {
    if (typeof prefix !== 'string' || !BUCKET_PREFIX.test(prefix)) {
      throw new ValidationError('prefix', `must be the start of a bucket name, got ${JSON.stringify(prefix)}`);
    }
    let entries: Dirent[];
    try {
      entries = await readdir(join(this.stateDir, 'assets'), { withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    return entries
      .filter((entry) => entry.isDirectory() && entry.name.startsWith(prefix) && BUCKET_NAME.test(entry.name))
      .map((entry) => entry.name)
      .sort();
  }

  /** Each file written then renamed into place (a reader never sees half a file), pages last; then the files no longer in the release removed. */
  async publishStaticAssets(assetsBucket: string, releaseId: string, files: StaticAssetFiles): Promise<StaticAssetsPublished> {
    checkReleaseId(releaseId);
    const root = this.assetsFolder(assetsBucket);
    // As S3 answers NoSuchBucket: a store is made by CreateStaticAssets, never here.
    if (!(await this.staticAssetsExist(assetsBucket))) throw new PermanentError(`the static-asset store ${assetsBucket} does not exist`);
    const keys = publishingOrder(files);
    for (const key of keys) {
      const file = join(root, ...key.split('/'));
      const temporary = join(dirname(file), `.${process.pid}.publishing`);
      await mkdir(dirname(file), { recursive: true });
      await writeFile(temporary, files[key]!);
      await rename(temporary, file);
    }
    const kept = new Set(keys);
    let removed = 0;
    for (const file of await filesUnder(root)) {
      if (kept.has(relative(root, file).split(sep).join('/'))) continue;
      await rm(file, { force: true });
      removed += 1;
    }
    await removeEmptyFolders(root);
    return { releaseId, written: keys.length, removed };
  }

  async registerRoute(route: TenantRoute): Promise<{ url: string }> {
    const parsed = routeSchema.safeParse(route);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new ValidationError(`route.${issue?.path.join('.') ?? ''}`, issue?.message ?? 'is invalid');
    }
    this.routes.set(parsed.data.hostLabel, parsed.data);
    await this.save();
    return { url: this.urlFor(parsed.data.hostLabel) };
  }

  async removeRoute(hostLabel: string): Promise<boolean> {
    const route = this.routes.get(hostLabel);
    if (!route) return false;
    this.routes.delete(hostLabel);
    await this.save();
    for (const listener of this.removalListeners) listener(route);
    return true;
  }

  /** Called after a route is removed (the front door drops its idle connections to that endpoint). */
  onRouteRemoved(listener: (route: TenantRoute) => void): void {
    this.removalListeners.push(listener);
  }

  /** Called when a tenant's idle connections must not be reused (the front door drops them). */
  onConnectionsStale(listener: (route: TenantRoute) => void): void {
    this.staleListeners.push(listener);
  }

  async dropIdleConnections(hostLabel: string): Promise<void> {
    const route = this.lookup(hostLabel);
    if (route) for (const listener of this.staleListeners) listener(route);
  }

  async getRoute(hostLabel: string): Promise<TenantRoute | undefined> {
    return this.lookup(hostLabel);
  }

  urlFor(hostLabel: string): string {
    return `http://${hostLabel}.${this.baseDomain}:${this.port()}/`;
  }

  /** The route of a host label, for the front door (synchronous: routes are in memory). */
  lookup(hostLabel: string): TenantRoute | undefined {
    return this.routes.get(hostLabel.toLowerCase());
  }

  /** The route of a tenant id, for requests that name the tenant in a header rather than the host. */
  lookupTenant(tenantId: string): TenantRoute | undefined {
    for (const route of this.routes.values()) if (route.tenantId === tenantId) return route;
    return undefined;
  }

  async listRoutes(): Promise<TenantRoute[]> {
    return this.currentRoutes();
  }

  /** Every route, by host label, for the front door (synchronous: routes are in memory). */
  currentRoutes(): TenantRoute[] {
    return [...this.routes.values()].sort((a, b) => a.hostLabel.localeCompare(b.hostLabel));
  }

  /** The folder holding a bucket's objects; a bucket name that could escape the assets root is refused. */
  assetsFolder(assetsBucket: string): string {
    if (!BUCKET_NAME.test(assetsBucket) || assetsBucket.includes('..')) {
      throw new ValidationError('assetsBucket', `must be a bucket name, got ${JSON.stringify(assetsBucket)}`);
    }
    return join(this.stateDir, 'assets', assetsBucket);
  }

  private routesPath(): string {
    return join(this.stateDir, 'edge', 'routes.json');
  }

  private load(): TenantRoute[] {
    let text: string;
    try {
      text = readFileSync(this.routesPath(), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    const parsed = routesFileSchema.safeParse(JSON.parse(text));
    if (!parsed.success) {
      throw new Error(`${this.routesPath()} is not a valid routes file: ${parsed.error.issues[0]?.message ?? 'unknown problem'}`);
    }
    return parsed.data.routes;
  }

  private save(): Promise<void> {
    const write = async (): Promise<void> => {
      const path = this.routesPath();
      const temporary = `${path}.${process.pid}.tmp`;
      await mkdir(join(this.stateDir, 'edge'), { recursive: true });
      await writeFile(temporary, `${JSON.stringify({ routes: this.currentRoutes() }, null, 2)}\n`);
      await rename(temporary, path);
    };
    this.saving = this.saving.then(write, write);
    return this.saving;
  }
}

/** Every file under `folder` (absolute paths); none when it does not exist. */
async function filesUnder(folder: string): Promise<string[]> {
  let entries: Dirent[];
  try {
    entries = await readdir(folder, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const files: string[] = [];
  for (const entry of entries) {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) files.push(...(await filesUnder(path)));
    else files.push(path);
  }
  return files;
}

/** Removes the folders under `root` left empty by a removal (never `root` itself). */
async function removeEmptyFolders(root: string, folder = root): Promise<boolean> {
  let entries: Dirent[];
  try {
    entries = await readdir(folder, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
  let empty = true;
  for (const entry of entries) {
    if (!entry.isDirectory() || !(await removeEmptyFolders(root, join(folder, entry.name)))) empty = false;
  }
  if (!empty || folder === root) return false;
  await rmdir(folder);
  return true;
}
