/**
 * A release's front end as the edge serves it. Keys are paths inside the release's `public/`
 * folder, and they are exactly what the tenant's front requests from its static-asset store: the
 * request path without its leading `/` (`/app.js` is `app.js`, `/assets/x.js` is `assets/x.js`),
 * and `/` is {@link ROOT_OBJECT} (the distributions' default root object). No origin path: the
 * keys sit at the top of the bucket (or of the local folder).
 */
import { ValidationError } from './errors.js';

export type StaticAssetFiles = Readonly<Record<string, string | Uint8Array>>;

/** What `/` is served as (CloudFront's `DefaultRootObject`; the local front door does the same). */
export const ROOT_OBJECT = 'index.html';

/** Requests under `/api/` go to the tenant's service, never to the store: such a key could not be reached. */
export const API_PREFIX = 'api/';

/** Browsers and CloudFront may keep it forever: its name changes whenever its bytes do. */
export const IMMUTABLE = 'public, max-age=31536000, immutable';
/** Asked of the origin again on each use (CloudFront keeps it at most its cache policy's minimum TTL): deploys and rollbacks show at once, without an invalidation. */
export const REVALIDATE = 'no-cache';

const KEY = /^[A-Za-z0-9._~-]+(?:\/[A-Za-z0-9._~-]+)*$/;
const MAX_KEY_LENGTH = 512;
/** `<name>-<hash>.<ext>` or `<name>.<hash>.<ext>`: 8 to 64 letters and digits, at least one a digit (how bundlers name content-hashed files). */
const HASHED_NAME = /^.+[.-](?=[A-Za-z0-9_]*\d)[A-Za-z0-9_]{8,64}\.[A-Za-z0-9]+$/;

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.htm': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.avif': 'image/avif',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.wasm': 'application/wasm',
};

/** Refuses a key that is not a plain relative path (no `.`/`..` segment, no empty one) or that `/api/*` would shadow. */
export function checkStaticAssetKey(key: string): string {
  const segments = typeof key === 'string' ? key.split('/') : [];
  const plain = typeof key === 'string' && key.length <= MAX_KEY_LENGTH && KEY.test(key) && segments.every((s) => s !== '.' && s !== '..');
  if (!plain) throw new ValidationError(`files.${String(key)}`, 'is not a safe relative path');
  if (key.startsWith(API_PREFIX)) throw new ValidationError(`files.${key}`, `is under ${API_PREFIX}, which the front sends to the tenant's service`);
  return key;
}

/** The Content-Type a key is stored and served with, from its extension. */
export function staticAssetContentType(key: string): string {
  const dot = key.lastIndexOf('.');
  const extension = dot > key.lastIndexOf('/') ? key.slice(dot).toLowerCase() : '';
  return CONTENT_TYPES[extension] ?? 'application/octet-stream';
}

/** Whether a key names a content-hashed file (kept forever); everything else, `index.html` first, is revalidated. */
export function isHashedAsset(key: string): boolean {
  const name = key.slice(key.lastIndexOf('/') + 1);
  return !/\.html?$/i.test(name) && HASHED_NAME.test(name);
}

/** The Cache-Control a key is stored and served with: {@link IMMUTABLE} for hashed files, {@link REVALIDATE} for the rest. */
export function staticAssetCacheControl(key: string): string {
  return isHashedAsset(key) ? IMMUTABLE : REVALIDATE;
}

/** The keys in the order they are written: the pages that name the others last, so no page is served before what it loads. */
export function publishingOrder(files: StaticAssetFiles): string[] {
  const isPage = (key: string) => /\.html?$/i.test(key);
  return Object.keys(files)
    .map(checkStaticAssetKey)
    .sort((a, b) => Number(isPage(a)) - Number(isPage(b)) || a.localeCompare(b));
}
