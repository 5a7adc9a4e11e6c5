// The learned rewards' real networks (see ./network.ts).
export * from './network.ts';
export * from './registry.ts';
export { AESTHETIC_HEAD, AESTHETIC_HEAD_FILE } from './aesthetic.ts';
