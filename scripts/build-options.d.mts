/** Types of build-options.mjs, for the TypeScript that reads it (scripts/template.ts). */
export declare const buildOptions: Record<string, unknown>;
