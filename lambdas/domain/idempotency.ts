import { createHash } from 'node:crypto';
import { ValidationError } from './errors.js';

const IDEMPOTENCY_KEY = /^[A-Za-z0-9_.:-]{1,128}$/;

/** An `Idempotency-Key` header, if given, is 1-128 letters, digits or `. _ : -`; otherwise a 400 naming it. */
export function checkIdempotencyKey(key: string | undefined): void {
  if (key !== undefined && !IDEMPOTENCY_KEY.test(key)) throw new ValidationError('Idempotency-Key', 'must be 1-128 letters, digits or . _ : -');
}

/** What a replayed key is compared against: the same key with another request is a conflict. */
export function requestHashOf(request: unknown): string {
  return createHash('sha256').update(JSON.stringify(request)).digest('hex');
}
