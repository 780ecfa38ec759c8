export * from './errors.js';
export * from './nodes/index.js';
