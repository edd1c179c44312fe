/**
 * The esbuild settings of every function bundle, in one place: `npm run build` uses them, and the
 * SAM template's Metadata blocks must match them.
 */
export const buildOptions = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  minify: true,
  // Error class names (CredentialsRejectedError, …) must survive minification: logs and callers read them.
  keepNames: true,
  sourcemap: true,
  // pg's optional native binding; pg loads it only when asked to.
  external: ['pg-native'],
  legalComments: 'none',
};
