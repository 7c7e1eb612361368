// The plugin's `main`: the host takes `pluginModule` (also the default export).
export { pluginModule, pluginModule as default } from './plugin-module';
