// tap `before` script (.taprc): runs once, as a node program with tap's TS loader, before any
// test file.  Starts the suite-wide RGW (require ssl true, trust forwarded true) and redis under
// the state dir (env SSEC_TEST_STATE, default <repo>/.state/test); test/helpers/rgw.ts finds
// them there.  A non-zero exit makes tap fail the run.
import { join } from 'node:path';
import { runScript, repoRoot, stateRoot } from '../helpers/rgw.js';

const t0 = Date.now();
const root = stateRoot();
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
