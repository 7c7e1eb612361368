export * from './services';
export * from './settings';
export * from './startup';
export * from './storage';
export * from './manifest';
