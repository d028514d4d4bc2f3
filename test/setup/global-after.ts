// tap `after` script (.taprc): stops the suite-wide RGW and redis started by global-before.ts.
// Their work dirs stay under the state dir for inspection (logs in <state>/rgw/log/);
// the next start wipes them.
import { join } from 'node:path';
import { runScript, repoRoot, stateRoot } from '../helpers/rgw.js';

const root = stateRoot();
const results = await Promise.allSettled([
  runScript(join(repoRoot, 'scripts', 'rgw.sh'), ['stop', join(root, 'rgw')]),
  runScript(join(repoRoot, 'scripts', 'redis.sh'), ['stop', join(root, 'redis')]),
]);
for (const r of results) {
  if (r.status === 'rejected') {
    console.error(`global-after: ${(r.reason as Error).message}`);
    process.exitCode = 1;
  }
}
