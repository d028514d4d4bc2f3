// podman (Debian packages podman, buildah, runc) as this workplace allows it: rootful, runc with
// lowered ulimits, chroot isolation for RUN steps, host network, no registry pulls. The Dockerfile's
// base image is replaced by a local stand-in made from this machine's own Node.js (the same major
// as the official node:20 image, laid out like it: /usr/local/bin/node, /usr/local/lib/node_modules/npm).
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createHash } from 'node:crypto';

export const STANDIN = 'localhost/ssec-gateway-standin/node';

export function podmanEnv(dir: string): NodeJS.ProcessEnv {
  const conf = join(dir, 'containers.conf');
  writeFileSync(conf, [
    '[containers]', 'default_ulimits = ["nofile=1024:4096", "nproc=1024:4096"]', 'netns = "host"',
    '[engine]', 'runtime = "runc"', '',
  ].join('\n'));
  return { ...process.env, CONTAINERS_CONF: conf, BUILDAH_ISOLATION: 'chroot' };
}

export function podman(args: string[], env: NodeJS.ProcessEnv, timeout = 300_000): { status: number; stdout: string; stderr: string } {
  const r = spawnSync('podman', args, { encoding: 'utf8', env, timeout, maxBuffer: 64 << 20 });
  return { status: r.status ?? -1, stdout: r.stdout ?? '', stderr: (r.stderr ?? '') + (r.error ? String(r.error) : '') };
}

function which(cmd: string): string {
  return spawnSync('bash', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).stdout.trim();
}

/** Shared libraries of a binary (ldd), absolute paths. */
function libs(bin: string): string[] {
  const out = spawnSync('ldd', [bin], { encoding: 'utf8' }).stdout;
  return [...out.matchAll(/(\/[^\s]+\.so[^\s]*)/g)].map((m) => m[1]!);
}

/**
 * Builds (once; kept in podman's store, keyed by the host node version) a minimal Debian-layout
 * image with node, npm, a POSIX shell and the few tools a Dockerfile RUN step uses.
 */
export function ensureStandIn(env: NodeJS.ProcessEnv): string {
  const node = which('node');
  const npmDir = join(dirname(dirname(node)), 'lib', 'node_modules', 'npm');
  const tag = createHash('sha256').update(`v2 ${process.version}` + readFileSync(join(npmDir, 'package.json'))).digest('hex').slice(0, 12);
  const image = `${STANDIN}:${tag}`;
  if (podman(['image', 'exists', image], env).status === 0) return image;
  const dir = mkdtempSync(join(tmpdir(), 'ssec-standin-'));
  const root = join(dir, 'rootfs');
  try {
    const bins = ['sh', 'openssl', 'mkdir', 'chown', 'chmod', 'cp', 'rm', 'ls', 'cat', 'id', 'env', 'sleep', 'mv', 'ln'].map((b) => which(b)).filter(Boolean);
    const files = new Set<string>([node, ...bins]);
    for (const b of [...files]) for (const l of libs(b)) files.add(l);
    for (const f of files) {
      const dest = join(root, f);
      mkdirSync(dirname(dest), { recursive: true });
      copyFileSync(f, dest);
      chmodSync(dest, 0o755);
    }
    // official node image layout
    mkdirSync(join(root, 'usr/local/bin'), { recursive: true });
    copyFileSync(node, join(root, 'usr/local/bin/node'));
    chmodSync(join(root, 'usr/local/bin/node'), 0o755);
    cpSync(npmDir, join(root, 'usr/local/lib/node_modules/npm'), { recursive: true, dereference: true });
    symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', join(root, 'usr/local/bin/npm'));
    symlinkSync('../lib/node_modules/npm/bin/npx-cli.js', join(root, 'usr/local/bin/npx'));
    const sh = which('sh');
    if (sh !== '/bin/sh') { mkdirSync(join(root, 'bin'), { recursive: true }); copyFileSync(sh, join(root, 'bin/sh')); chmodSync(join(root, 'bin/sh'), 0o755); }
    for (const d of ['tmp', 'root', 'etc/ssl/certs', 'home/node']) mkdirSync(join(root, d), { recursive: true });
    // openssl's configuration (the Dockerfile installs openssl where the base image lacks it)
    if (existsSync('/usr/lib/ssl/openssl.cnf')) { mkdirSync(join(root, 'usr/lib/ssl'), { recursive: true }); copyFileSync('/usr/lib/ssl/openssl.cnf', join(root, 'usr/lib/ssl/openssl.cnf')); }
    chmodSync(join(root, 'tmp'), 0o1777);
    writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnode:x:1000:1000::/home/node:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n');
    writeFileSync(join(root, 'etc/group'), 'root:x:0:\nnode:x:1000:\nnogroup:x:65534:\n');
    writeFileSync(join(root, 'etc/os-release'), 'PRETTY_NAME="ssec-gateway test stand-in for node:20-bookworm-slim"\n');
    // this machine's CA bundle (its egress intercepts TLS), in the stand-in only, never in the Dockerfile
    if (existsSync('/etc/ssl/certs/ca-certificates.crt')) copyFileSync('/etc/ssl/certs/ca-certificates.crt', join(root, 'etc/ssl/certs/ca-certificates.crt'));
    writeFileSync(join(root, 'etc/npmrc'), 'cafile=/etc/ssl/certs/ca-certificates.crt\n');
    mkdirSync(join(root, 'usr/local/etc'), { recursive: true });
    writeFileSync(join(root, 'usr/local/etc/npmrc'), 'cafile=/etc/ssl/certs/ca-certificates.crt\nupdate-notifier=false\nfund=false\naudit=false\n');
    const tar = spawnSync('bash', ['-c', `tar -C '${root}' -c . | podman import --change 'CMD ["node"]' --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' - '${image}'`], { encoding: 'utf8', env, timeout: 120_000 });
    if (tar.status !== 0) throw new Error(`podman import of the stand-in failed: ${tar.stderr}`);
    return image;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
