/**
 * The esbuild settings of every function bundle, in one place: `npm run build` uses them, and the
 * SAM template's Metadata blocks must match them.
 */
export const buildOptions = {
  bundle: true,
  platform: 'node',
  target: 'node22',
  format: 'cjs',
  minify: true,
  // Error class names (CredentialsRejectedError, …) must survive minification: logs and callers read them.
  keepNames: true,
  sourcemap: true,
  // Optional packages the drivers load only when asked to: pg's native binding, and the mongodb
  // driver's compression, Kerberos, client-side encryption, SOCKS and AWS-IAM auth add-ons.
  external: [
    'pg-native',
    '@aws-sdk/credential-providers',
    '@mongodb-js/zstd',
    'kerberos',
    'snappy',
    'mongodb-client-encryption',
    'gcp-metadata',
    'socks',
  ],
  legalComments: 'none',
};
