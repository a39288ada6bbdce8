import { describe, expect, it } from '@jest/globals';
import { ConflictError } from '../../lambdas/domain/errors.js';
import { assertTransition, canTransition, sourcesOf } from '../../lambdas/domain/tenant-status.js';

describe('the tenant status model', () => {
  it('walks the lifecycle REQUESTED → PROVISIONING → ACTIVE → DEPROVISIONING → DELETED → REQUESTED', () => {
    expect(canTransition('REQUESTED', 'PROVISIONING')).toBe(true);
    expect(canTransition('PROVISIONING', 'ACTIVE')).toBe(true);
    expect(canTransition('ACTIVE', 'DEPROVISIONING')).toBe(true);
    expect(canTransition('DEPROVISIONING', 'DELETED')).toBe(true);
    expect(canTransition('DELETED', 'REQUESTED')).toBe(true);
  });

  it('lets a failed tenant be provisioned again or removed, and nothing skip a step', () => {
    expect(canTransition('FAILED', 'PROVISIONING')).toBe(true);
    expect(canTransition('FAILED', 'DEPROVISIONING')).toBe(true);
    expect(canTransition('REQUESTED', 'ACTIVE')).toBe(false);
    expect(canTransition('ACTIVE', 'DELETED')).toBe(false);
    expect(canTransition('DELETED', 'ACTIVE')).toBe(false);
  });

  it('leaves a failed deprovision to be run again, and to nothing else', () => {
    expect(canTransition('DEPROVISIONING', 'DEPROVISION_FAILED')).toBe(true);
    expect(canTransition('DEPROVISION_FAILED', 'DEPROVISIONING')).toBe(true);
    expect(canTransition('DEPROVISIONING', 'FAILED')).toBe(false);
    expect(canTransition('DEPROVISION_FAILED', 'PROVISIONING')).toBe(false);
    expect(sourcesOf('DEPROVISIONING').sort()).toEqual(['ACTIVE', 'DEPROVISION_FAILED', 'FAILED']);
  });

  it('names the sources of a status', () => {
    expect(sourcesOf('PROVISIONING').sort()).toEqual(['ACTIVE', 'FAILED', 'REQUESTED']);
  });

  it('throws a ConflictError saying what the status is', () => {
    expect(() => assertTransition('acme', 'DELETED', 'ACTIVE')).toThrow(new ConflictError('tenant acme is DELETED and cannot become ACTIVE'));
  });
});
