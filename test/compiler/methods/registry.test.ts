// The method registries: every catalogue objective is lowered or named as not lowered yet, and
// the compiler's and the runtime's registries list the same objectives.
import { describe, expect, it } from 'vitest';
import { compilerMethodFor, compilerMethods, unloweredObjectives } from '../../../compiler/methods/registry.ts';
import type { Plan } from '../../../compiler/plan.ts';
import { runtimeMethodFor, runtimeMethods } from '../../../runtime/methods/registry.ts';
import { componentsOf } from '../../../stdlib/catalogue/index.ts';
import { VplError } from '../../../diagnostics/error.ts';

const planWith = (objective: string) => ({ objective: { name: objective }, file: 'x.vpl' }) as unknown as Plan;

describe('method registries', () => {
  it('cover every catalogue objective: lowered, or named with what lands it', () => {
    for (const { name } of componentsOf('objective')) {
      expect(name in compilerMethods || name in unloweredObjectives, name).toBe(true);
      expect(name in compilerMethods && name in unloweredObjectives, name).toBe(false);
    }
  });

  it('list the same objectives on the compiler and the runtime side, under their own names', () => {
    expect(Object.keys(runtimeMethods).sort()).toEqual(Object.keys(compilerMethods).sort());
    for (const [name, m] of Object.entries(compilerMethods)) expect(m.objective).toBe(name);
    for (const [name, m] of Object.entries(runtimeMethods)) expect(m.objective).toBe(name);
  });

  it('refuse an objective that is not lowered yet with what lands it', () => {
    expect(() => compilerMethodFor(planWith('denoise'))).toThrow(/objective 'denoise' is not lowered yet \(it lands with the denoising fine-tuning/);
    const error = (() => {
      try {
        runtimeMethodFor(planWith('denoise'), 'vplc run');
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(VplError);
    expect((error as VplError).code).toBe('VPL7131');
    expect((error as VplError).help).toMatch(/`objective reward` and `objective consistency`/);
  });
});
