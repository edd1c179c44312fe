import { rm } from 'node:fs/promises';
import { startEnvironment } from '../helpers/environment';
import { ALL_IMAGES, imagesFor } from '../helpers/environment/images';

// The README's promises about ROTATION_TEST_IMAGES (Tests → Containers).

describe('ROTATION_TEST_IMAGES=local', () => {
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
  });

  it('fails, rather than falling back to local servers, when no container engine answers', async () => {
    process.env.ROTATION_TEST_IMAGES = 'local';
    process.env.DOCKER_HOST = 'unix:///nonexistent/rotation-lambdas-test.sock';
    delete process.env.ROTATION_TEST_PROVIDER;
    const error = await startEnvironment().then(
      () => undefined,
      (failure: unknown) => failure as Error,
    );
    expect(error?.message).toMatch(
      /ROTATION_TEST_IMAGES=local, but no container runtime is usable/,
    );
    // The failed start keeps its (empty) run directory for inspection; this test has no use for it.
    const runDir = error?.message.match(/run directory kept: (\S+)\)/)?.[1];
    if (runDir) await rm(runDir, { recursive: true, force: true });
  });

  it('stands a local image in for every official one but MongoDB, each tag naming its version', () => {
    const { names, leftOut } = imagesFor(ALL_IMAGES, 'local');
    expect(leftOut).toEqual(['mongo:7.0', 'mongo:8.0']);
    for (const image of ALL_IMAGES.filter((i) => i.local)) {
      const official = image.official.split('/').at(-1) ?? '';
      expect(names).toContain(`localhost/rotation-lambdas/${official}`);
    }
  });
});
