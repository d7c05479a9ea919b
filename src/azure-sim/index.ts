// Public surface of the simulator.
export * from './server';
export { worldFromYaml } from './world-yaml';
