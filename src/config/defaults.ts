/**
 * Constants the CLI needs before any config is read. Kept free of imports so that `dcp --help`
 * does not load zod or the config schema.
 */
export const DEFAULT_CONFIG_PATH = "config/config.json";
