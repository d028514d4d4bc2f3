// tap `before` script (.taprc): runs once, as a node program with tap's TS loader, before any
// test file.  Starts the suite-wide RGW (require ssl true, trust forwarded true) and redis under
// the state dir (env SSEC_TEST_STATE, default <repo>/.state/test); test/helpers/rgw.ts finds
// them there.  A non-zero exit makes tap fail the run.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { runScript, repoRoot, stateRoot } from '../helpers/rgw.js';

const t0 = Date.now();
const root = stateRoot();
// The Debian packages the suite needs (scripts/debian-deps.sh, the list .ci/run installs too): as root
// the missing ones are installed now; otherwise the script prints the one command to run and we stop.
const deps = join(repoRoot, 'scripts', 'debian-deps.sh');
if (spawnSync('bash', [deps, 'check', 'all'], { stdio: 'ignore' }).status !== 0) {
  const r = spawnSync('bash', [deps, 'install', 'all'], { stdio: ['ignore', 2, 2], timeout: 30 * 60_000 });
  if (r.status !== 0) {
    console.error('global-before: the Debian packages the tests need are missing (see above); not starting the test services');
    process.exit(1);
  }
}
try {
  await Promise.all([
    runScript(join(repoRoot, 'scripts', 'rgw.sh'), ['start', join(root, 'rgw')]),
    runScript(join(repoRoot, 'scripts', 'redis.sh'), ['start', join(root, 'redis')]),
  ]);
} catch (err) {
  console.error(`global-before: could not start the test services:\n${(err as Error).message}`);
  process.exitCode = 1;
  // don't leave half of it running (rgw.sh already stops its own daemons when it fails)
  await Promise.allSettled([
    runScript(join(repoRoot, 'scripts', 'rgw.sh'), ['stop', join(root, 'rgw')]),
    runScript(join(repoRoot, 'scripts', 'redis.sh'), ['stop', join(root, 'redis')]),
  ]);
}
if (!process.exitCode) {
  console.error(`# global-before: RGW and redis up under ${root} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}
