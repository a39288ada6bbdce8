import { describe, expect, it } from '@jest/globals';
import { releaseSignalsFromEmbeddedPostgres } from '../../local/embedded-database.js';

describe('releaseSignalsFromEmbeddedPostgres', () => {
  it('can run once per embedded database started in a process, not only once', () => {
    expect(() => {
      releaseSignalsFromEmbeddedPostgres();
      releaseSignalsFromEmbeddedPostgres();
    }).not.toThrow();
  });
});
