import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { checkBackupKey, type DownloadLink } from '../../lambdas/ports/backup-store.js';

/** Where the local API serves a backup-store object to whoever holds a valid link. */
export const DOWNLOADS_PATH = '/downloads/';

export interface SignedDownloadLinksOptions {
  /** The local API's address (known once it listens). */
  readonly baseUrl: () => string;
  /** HMAC key. @default 32 random bytes: links die with the process, as a presigned URL dies with its session */
  readonly secret?: Buffer;
  /** @default the system clock */
  readonly now?: () => Date;
}

export type LinkCheck = { readonly ok: true } | { readonly ok: false; readonly reason: 'expired' | 'invalid' };

/**
 * The local stand-in for S3 presigned URLs: `<api>/downloads/<key>?expires=<unix seconds>&signature=<hex>`,
 * the signature an HMAC-SHA256 of the key and the expiry. The local API serves the object while the
 * link checks out; the folder itself is never exposed.
 */
export class SignedDownloadLinks {
  private readonly secret: Buffer;
  private readonly now: () => Date;

  constructor(private readonly options: SignedDownloadLinksOptions) {
    this.secret = options.secret ?? randomBytes(32);
    this.now = options.now ?? (() => new Date());
  }

  sign(key: string, expiresInSeconds: number): DownloadLink {
    checkBackupKey(key);
    const expires = Math.floor(this.now().getTime() / 1000) + expiresInSeconds;
    const url = new URL(`${DOWNLOADS_PATH}${key.split('/').map(encodeURIComponent).join('/')}`, this.options.baseUrl());
    url.searchParams.set('expires', String(expires));
    url.searchParams.set('signature', this.signature(key, expires));
    return { url: url.toString(), expiresAt: new Date(expires * 1000).toISOString() };
  }

  /** Whether a link's key, expiry and signature (as the request carries them) still open the object. */
  check(key: string, expires: string | null, signature: string | null): LinkCheck {
    if (!expires || !/^\d{1,12}$/.test(expires) || !signature || !/^[0-9a-f]{64}$/.test(signature)) return { ok: false, reason: 'invalid' };
    const expected = Buffer.from(this.signature(key, Number(expires)), 'hex');
    if (!timingSafeEqual(expected, Buffer.from(signature, 'hex'))) return { ok: false, reason: 'invalid' };
    if (this.now().getTime() >= Number(expires) * 1000) return { ok: false, reason: 'expired' };
    return { ok: true };
  }

  private signature(key: string, expires: number): string {
    return createHmac('sha256', this.secret).update(`${key}\n${expires}`).digest('hex');
  }
}
