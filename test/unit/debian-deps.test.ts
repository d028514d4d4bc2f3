// scripts/debian-deps.sh: the one list of Debian packages and the one install logic that `npm run demo`,
// `npm test` (test/setup/global-before.ts) and .ci/run share, so both README commands work on a fresh
// Debian 12 machine. Run with a fake dpkg-query, apt-get and id first on PATH: apt-get only records what
// it was asked; nothing is installed or removed on this machine.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const SCRIPT = join(REPO, 'scripts', 'debian-deps.sh');
// the list .ci/run has always installed, in its order
const ALL = ['ceph-mon', 'ceph-osd', 'radosgw', 'ceph-common', 'redis-server', 'openssl', 'curl', 'ca-certificates', 'nghttp2-client', 's3cmd', 'rclone', 'awscli'];

const fakes: Record<string, string> = {
  // `dpkg-query -W -f='${Package} ${db:Status-Status}\n' PKG…`: "PKG installed" for those in $FAKE_INSTALLED
  'dpkg-query': `#!/bin/sh
rc=0
for a in "$@"; do
  case $a in -*) continue ;; esac
  case " $FAKE_INSTALLED " in *" $a "*) echo "$a installed" ;; *) echo "dpkg-query: no packages found matching $a" >&2; rc=1 ;; esac
done
exit $rc
`,
  // records each call, and whether the policy-rc.d that keeps daemons from starting was in place
  'apt-get': `#!/bin/sh
p=no; [ -x "$SSEC_POLICY_RC_D" ] && p=policy
echo "$p $*" >>"$FAKE_APT_LOG"
`,
  id: `#!/bin/sh
[ "$1" = -u ] && { echo "$FAKE_UID"; exit 0; }
echo "uid=$FAKE_UID"
`,
};

function run(args: string[], o: { installed: string[]; uid: number }) {
  const dir = mkdtempSync(join(tmpdir(), 'debian-deps-'));
  const bin = join(dir, 'bin');
  spawnSync('mkdir', [bin]);
  for (const [name, text] of Object.entries(fakes)) {
    writeFileSync(join(bin, name), text);
    chmodSync(join(bin, name), 0o755);
  }
  const log = join(dir, 'apt.log');
  const policy = join(dir, 'policy-rc.d');
  const r = spawnSync('bash', [SCRIPT, ...args], {
    cwd: REPO, encoding: 'utf8',
    env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, FAKE_INSTALLED: o.installed.join(' '), FAKE_UID: String(o.uid), FAKE_APT_LOG: log, SSEC_POLICY_RC_D: policy },
  });
  const apt = existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : [];
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, apt, policyLeft: existsSync(policy) };
}

t.test('all present: nothing installed, no apt-get at all', async (t) => {
  for (const uid of [0, 1000]) {
    const r = run(['install', 'all'], { installed: ALL, uid });
    t.equal(r.code, 0, `uid ${uid}: exit 0`, { stderr: r.stderr });
    t.same(r.apt, [], `uid ${uid}: apt-get never called`);
    t.match(r.stdout, /all 12 Debian packages already installed: skipping apt-get update\/install/);
  }
  t.equal(run(['check'], { installed: ALL, uid: 1000 }).code, 0, 'check: exit 0');
});

t.test('some missing, as root: exactly those installed, in one apt-get install after one update', async (t) => {
  const r = run(['install', 'all'], { installed: ALL.filter((p) => p !== 'radosgw' && p !== 's3cmd'), uid: 0 });
  t.equal(r.code, 0, 'exit 0', { stderr: r.stderr });
  t.same(r.apt, [
    'policy update -qq',
    'policy install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300 radosgw s3cmd',
  ], 'one update, then one install of exactly the missing packages, with the policy-rc.d in place');
  t.notOk(r.policyLeft, 'the policy-rc.d the script made is removed afterwards');
  t.match(r.stdout, /installing: radosgw s3cmd/);
});

t.test('the demo installs only what RGW needs', async (t) => {
  const r = run(['install', 'rgw'], { installed: [], uid: 0 });
  t.equal(r.code, 0);
  t.same(r.apt.slice(1), ['policy install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300 ceph-mon ceph-osd radosgw ceph-common openssl curl ca-certificates']);
  t.equal(r.apt[0], 'policy update -qq');
});

t.test('missing, not root: exit non-zero, the one command to run printed, nothing installed', async (t) => {
  for (const group of ['all', 'rgw']) {
    const r = run(['install', group], { installed: ALL.filter((p) => p !== 'radosgw' && p !== 'rclone'), uid: 1000 });
    t.not(r.code, 0, `${group}: non-zero exit`);
    t.same(r.apt, [], `${group}: apt-get never called`);
    t.match(r.stderr, new RegExp(`missing Debian packages: radosgw${group === 'all' ? ' rclone' : ''}\\n`), `${group}: names the missing packages (of the group only)`);
    const commands = r.stderr.split('\n').filter((l) => /^\s+\S/.test(l)).map((l) => l.trim());
    t.same(commands, [`sudo bash scripts/debian-deps.sh install ${group}`], `${group}: exactly one command to run`);
  }
});

t.test('check and print', async (t) => {
  const c = run(['check', 'rgw', 'redis'], { installed: ['ceph-mon'], uid: 0 });
  t.equal(c.code, 1);
  t.equal(c.stdout.trim(), 'missing Debian packages: ceph-osd radosgw ceph-common redis-server openssl curl ca-certificates');
  t.same(c.apt, [], 'check installs nothing, even as root');
  t.equal(run(['print'], { installed: [], uid: 0 }).stdout.trim(), ALL.join(' '), 'print: the whole list, in .ci/run\'s order');
  t.equal(run(['print', 'redis'], { installed: [], uid: 0 }).stdout.trim(), 'redis-server');
  t.equal(run(['bogus'], { installed: [], uid: 0 }).code, 2, 'unknown verb: usage, exit 2');
  t.equal(run(['install', 'nginx'], { installed: [], uid: 0 }).apt.length, 0, 'unknown group: nothing installed');
});

t.test('.ci/run, the test setup and the demo all use this script (one list, one install logic)', async (t) => {
  const ci = readFileSync(join(REPO, '.ci', 'run'), 'utf8');
  t.match(ci, /^bash scripts\/debian-deps\.sh install all$/m, '.ci/run installs through it');
  t.notMatch(ci, /^\s*apt-get /m, '.ci/run runs no apt-get of its own');
  t.notMatch(ci, /\bradosgw\b.*\bceph-mon\b|\bceph-mon\b.*\bradosgw\b/, '.ci/run has no package list of its own left');
  t.match(ci, /npm test/, '.ci/run still runs the README\'s test command');
  const before = readFileSync(join(REPO, 'test', 'setup', 'global-before.ts'), 'utf8');
  t.match(before, /'debian-deps\.sh'/, 'the test setup (npm test) uses it');
  t.match(before, /\[deps, 'install', 'all'\]/, 'and installs all of it');
  const demo = readFileSync(join(REPO, 'scripts', 'demo.sh'), 'utf8');
  t.match(demo, /^bash scripts\/debian-deps\.sh install rgw/m, 'npm run demo uses it (RGW\'s packages only)');
  t.ok(demo.indexOf('debian-deps.sh') < demo.indexOf('rgw.sh start'), 'before starting RGW');
  const taprc = readFileSync(join(REPO, '.taprc'), 'utf8');
  t.match(taprc, /^before: test\/setup\/global-before\.ts$/m, 'tap runs that setup before the suite');
});
