// Exit codes, shared by every command (documented in the README).
export const ExitCode = {
  ok: 0,
  /** The input has problems: diagnostics were printed. */
  diagnostics: 1,
  /** Wrong usage, or an internal error. */
  usage: 2,
} as const;
