import { describe, expect, it } from 'vitest';
import { catalogue } from '../../../diagnostics/catalogue.ts';
import { formatVplError, isVplError, VplError } from '../../../diagnostics/error.ts';
import { ioError } from '../../../runtime/fs/io-error.ts';

describe('runtime errors', () => {
  it('prints like a compiler diagnostic, with and without a file', () => {
    const withFile = new VplError('VPL7011', 'the file is truncated', { file: 'unet.safetensors', help: 're-download it' });
    expect(formatVplError(withFile)).toBe('unet.safetensors: error VPL7011: the file is truncated\nhelp: re-download it');
    expect(formatVplError(new VplError('VPL7051', 'nothing to resume'))).toBe('error VPL7051: nothing to resume');
    expect(isVplError(withFile)).toBe(true);
    expect(isVplError(new Error('x'))).toBe(false);
  });

  it('keeps every runtime code (VPL7xxx) in the catalogue with a one-line meaning', () => {
    const runtimeCodes = Object.entries(catalogue).filter(([code]) => /^VPL7\d{3}$/.test(code));
    expect(runtimeCodes.length).toBeGreaterThan(30);
    for (const [, entry] of runtimeCodes) {
      expect(entry.severity).toBe('error');
      expect(entry.summary).toMatch(/^[A-Z].*\.$/);
      expect(entry.summary).not.toContain('\n');
    }
  });

  it('maps system errors to codes and keeps the cause', () => {
    const cause = Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
    const error = ioError(cause, 'run/checkpoints/latest', 'write');
    expect(error.code).toBe('VPL7003');
    expect(error.file).toBe('run/checkpoints/latest');
    expect(error.cause).toBe(cause);
    expect(ioError(Object.assign(new Error('x'), { code: 'EACCES' }), 'a', 'read').code).toBe('VPL7002');
    const unknown = ioError(Object.assign(new Error('weird failure'), { code: 'EWEIRD' }), 'a', 'read');
    expect(unknown.code).toBe('VPL7004');
    expect(unknown.message).toBe("cannot read 'a': weird failure");
  });
});
