/** @type {import('jest').Config} */
const transform = { '^.+\\.ts$': ['@swc/jest'] };

module.exports = {
  // Jest reads testTimeout only here, not per project: integration tests wait on real servers, and
  // a loaded two-core machine can take seconds for what usually takes one.
  testTimeout: 60_000,
  reporters: [
    'default',
    '<rootDir>/test/helpers/faults/matrix-reporter.js',
    '<rootDir>/test/helpers/summary-reporter.js',
  ],
  projects: [
    {
      displayName: 'unit',
      testMatch: ['<rootDir>/test/unit/**/*.test.ts'],
      transform,
      testEnvironment: 'node',
      globalSetup: '<rootDir>/test/helpers/leak/unit-global-setup.ts',
      globalTeardown: '<rootDir>/test/helpers/leak/unit-global-teardown.ts',
    },
    {
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
      transform,
      testEnvironment: 'node',
      globalSetup: '<rootDir>/test/helpers/environment/global-setup.ts',
      globalTeardown: '<rootDir>/test/helpers/environment/global-teardown.ts',
    },
  ],
};
