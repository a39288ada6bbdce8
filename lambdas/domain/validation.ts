import type { z } from 'zod';
import { ValidationError } from './errors.js';

/** Parses `value` with `schema`, or throws a {@link ValidationError} naming the first field that is wrong. */
export function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown, root = ''): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = [root, ...(issue?.path ?? []).map(String)].filter(Boolean).join('.');
  throw new ValidationError(path || 'body', issue?.message ?? 'is invalid');
}
