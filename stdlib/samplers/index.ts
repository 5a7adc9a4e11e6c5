// Samplers: noise schedules and timestep grids (JS), and the per-step updates (IR).
export * from './schedule.ts';
export * from './ddim.ts';
export * from './consistency.ts';
export * from './flow.ts';
export * from './edm.ts';
export * from './dpm-solver.ts';
