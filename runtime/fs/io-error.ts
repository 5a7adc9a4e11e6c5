// Turns Node's system errors (ENOENT, EACCES, ENOSPC, ...) into VplErrors that say which
// file, what vplc was doing and what to do about it.
import { VplError, type VplErrorCode } from '../../diagnostics/error.ts';

export type IoAction = 'read' | 'write' | 'create' | 'rename' | 'delete' | 'list';

interface IoErrorRule {
  code: VplErrorCode;
  message: (file: string, action: IoAction) => string;
  help: string;
}

const rules: Record<string, IoErrorRule> = {
  ENOENT: {
    code: 'VPL7001',
    message: (file, action) =>
      action === 'read' || action === 'list' ? `'${file}' does not exist` : `cannot ${action} '${file}': its folder does not exist`,
    help: 'check the path (relative paths are resolved from the current folder)',
  },
  ENOTDIR: {
    code: 'VPL7001',
    message: (file) => `'${file}': a part of this path is a file, not a folder`,
    help: 'check the path',
  },
  EISDIR: {
    code: 'VPL7004',
    message: (file) => `'${file}' is a folder, expected a file`,
    help: 'name the file inside the folder',
  },
  EACCES: {
    code: 'VPL7002',
    message: (file, action) => `permission denied: cannot ${action} '${file}'`,
    help: 'check the permissions of the file and its folder, or choose another output folder',
  },
  EPERM: {
    code: 'VPL7002',
    message: (file, action) => `operation not permitted: cannot ${action} '${file}'`,
    help: 'check the permissions of the file and its folder, or choose another output folder',
  },
  EROFS: {
    code: 'VPL7002',
    message: (file, action) => `cannot ${action} '${file}': the file system is read-only`,
    help: 'choose an output folder on a writable disk',
  },
  ENOSPC: {
    code: 'VPL7003',
    message: (file) => `disk full while writing '${file}'; the previous version of the file is intact`,
    help: 'free some space (or lower the checkpoint keep limit) and run again; training resumes from the last checkpoint',
  },
  EDQUOT: {
    code: 'VPL7003',
    message: (file) => `disk quota exceeded while writing '${file}'; the previous version of the file is intact`,
    help: 'free some space within your quota and run again',
  },
  EMFILE: {
    code: 'VPL7004',
    message: (file, action) => `too many open files: cannot ${action} '${file}'`,
    help: 'raise the open-file limit (ulimit -n) and run again',
  },
};

export function errnoOf(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error) {
    const code = (error as { code: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

/** Wraps a system error; a VplError passes through unchanged. */
export function ioError(error: unknown, file: string, action: IoAction): VplError {
  if (error instanceof VplError) return error;
  const errno = errnoOf(error);
  const rule = errno === undefined ? undefined : rules[errno];
  if (rule !== undefined) {
    return new VplError(rule.code, rule.message(file, action), { file, help: rule.help, cause: error });
  }
  const detail = error instanceof Error ? error.message : String(error);
  return new VplError('VPL7004', `cannot ${action} '${file}': ${detail}`, {
    file,
    help: 'check the disk and the path, then run again',
    cause: error,
  });
}
