// Positional arguments shared by commands: pipeline files, and `key=value` overrides.

export interface PipelineArguments {
  files: string[];
  overrides: string[];
}

/** `vplc check a.vpl lora.rank=8`: an argument with `=` before any `/` is an override. */
export function splitArguments(args: readonly string[]): PipelineArguments {
  const files: string[] = [];
  const overrides: string[] = [];
  for (const arg of args) {
    const eq = arg.indexOf('=');
    if (eq > 0 && !arg.slice(0, eq).includes('/') && !arg.endsWith('.vpl')) overrides.push(arg);
    else files.push(arg);
  }
  return { files, overrides };
}
