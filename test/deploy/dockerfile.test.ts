// The Dockerfile: linted (dockerfile-utils), its policy checked (base image as a build argument,
// multi-stage, production dependencies only, non-root numeric USER, EXPOSE, HEALTHCHECK), then —
// when podman is installed — built on a local stand-in base image and run: the container must
// answer /healthz as uid 10001 with a read-only root filesystem. Without podman that part is
// skipped with the reason (the only skip this suite allows).
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO, NPM_TOOLS, ensureTools, hasCommand, run } from './lib/tools.js';
import { freePort } from './lib/prometheus.js';
import { ensureStandIn, podman, podmanEnv } from './lib/podman.js';

ensureTools();
const DOCKERFILE = join(REPO, 'Dockerfile');
const text = readFileSync(DOCKERFILE, 'utf8');
// instructions, continuation lines joined, comments dropped
const instructions = text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'))
  .map((l) => { const [op, ...rest] = l.split(/\s+/); return { op: op!.toUpperCase(), args: rest.join(' ') }; });

t.test('dockerfile-utils lint: no diagnostics', async (t) => {
  const out = run(process.execPath, [join(NPM_TOOLS, 'dockerfile-utils', 'bin', 'dockerfile-utils'), 'lint', DOCKERFILE]);
  t.equal(out.trim(), '', 'clean');
});

t.test('policy: base image argument, stages, production dependencies, non-root, ports, healthcheck', async (t) => {
  const froms = instructions.filter((i) => i.op === 'FROM');
  const firstFrom = instructions.findIndex((i) => i.op === 'FROM');
  t.ok(instructions.slice(0, firstFrom).some((i) => i.op === 'ARG' && /^BASE_IMAGE=\S+/.test(i.args)), 'ARG BASE_IMAGE=… before the first FROM');
  t.ok(froms.length >= 2, `multi-stage (${froms.length} stages)`);
  for (const f of froms) t.match(f.args, /^\$\{BASE_IMAGE\}( AS \w+)?$/i, `FROM ${f.args}: the base image comes from the build argument`);
  t.notMatch(text, /:latest\b/, 'no :latest');
  const stages = froms.map((f) => /AS (\w+)/i.exec(f.args)?.[1]).filter(Boolean);
  for (const c of instructions.filter((i) => i.op === 'COPY' && i.args.includes('--from='))) {
    t.ok(stages.includes(/--from=(\w+)/.exec(c.args)![1]), `COPY ${c.args}: the stage exists`);
  }
  const finalStart = instructions.lastIndexOf(froms.at(-1)!);
  const final = instructions.slice(finalStart);
  const depsStage = /--from=(\w+) \/app\/node_modules/.exec(final.map((i) => i.args).join('\n'))?.[1];
  t.ok(depsStage, 'the runtime stage copies node_modules from a dependencies stage');
  const depsStart = instructions.findIndex((i) => i.op === 'FROM' && new RegExp(`AS ${depsStage}$`, 'i').test(i.args));
  const depsEnd = instructions.findIndex((i, n) => n > depsStart && i.op === 'FROM');
  t.match(instructions.slice(depsStart, depsEnd).map((i) => i.args).join('\n'), /npm ci --omit=dev/, 'which installs production dependencies only (npm ci --omit=dev)');
  t.notOk(final.some((i) => i.op === 'COPY' && /^\.\s|^\. /.test(i.args)), 'the runtime stage does not copy the whole context');
  const user = final.filter((i) => i.op === 'USER').at(-1);
  t.match(user?.args, /^[1-9]\d{3,}(:\d+)?$/, `final USER is a numeric non-root uid (${user?.args})`);
  t.match(final.find((i) => i.op === 'EXPOSE')?.args, /8443.*9464/, 'EXPOSE 8443 9464');
  t.match(final.find((i) => i.op === 'HEALTHCHECK')?.args, /CMD \[.*SSEC_HEALTHCHECK_URL/, 'HEALTHCHECK fetches SSEC_HEALTHCHECK_URL');
  t.match(final.find((i) => i.op === 'ENV' && i.args.startsWith('SSEC_HEALTHCHECK_URL='))?.args, /^SSEC_HEALTHCHECK_URL=http:\/\/127\.0\.0\.1:9464\/healthz$/, 'which defaults to the admin port\'s /healthz');
  t.match(final.find((i) => i.op === 'ENTRYPOINT')?.args, /^\[/, 'ENTRYPOINT in exec form');
  const ignore = readFileSync(join(REPO, '.dockerignore'), 'utf8');
  t.match(ignore, /^\*$/m, '.dockerignore excludes everything by default');
  for (const need of ['package.json', 'package-lock.json', 'src/', 'bin/']) t.match(ignore, new RegExp(`^!${need.replace('.', '\\.')}`, 'm'), `.dockerignore lets ${need} in`);
});

t.test('podman: build on a stand-in base, run, answer /healthz', { skip: hasCommand('podman') ? false : 'podman is not installed (bash scripts/tools.sh apt-image installs podman buildah runc); the image build-and-run check is skipped' }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ssec-podman-'));
  const env = podmanEnv(dir);
  const image = 'localhost/ssec-gateway:deploy-test';
  let cid = '';
  t.teardown(() => {
    if (cid) podman(['rm', '-f', cid], env, 60_000);
    rmSync(dir, { recursive: true, force: true });
  });
  const t0 = Date.now();
  const base = ensureStandIn(env);
  t.comment(`stand-in base ${base} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const t1 = Date.now();
  // layers are cached between runs (a rebuild after a src/ change redoes only tsc and the last stage);
  // the machine's npm cache, mounted as an overlay, spares npm ci most downloads
  const cache = join(homedir(), '.npm');
  const b = podman(['build', '--format', 'docker', '--pull=never', '--build-arg', `BASE_IMAGE=${base}`,
    '-v', `${cache}:/root/.npm:O`, '-t', image, '-f', DOCKERFILE, REPO], env, 540_000);
  t.equal(b.status, 0, `podman build in ${((Date.now() - t1) / 1000).toFixed(1)} s`, { stderr: b.stderr.slice(-4000) });
  if (b.status !== 0) return;
  const inspect = JSON.parse(podman(['image', 'inspect', image], env).stdout)[0] as { Config: { User: string; Env: string[]; ExposedPorts: Record<string, unknown>; Healthcheck?: { Test: string[] } }; Healthcheck?: { Test: string[] }; Size: number };
  t.equal(inspect.Config.User, '10001:10001', 'image user 10001:10001');
  t.ok(inspect.Config.ExposedPorts['8443/tcp'] && inspect.Config.ExposedPorts['9464/tcp'], 'exposes 8443 and 9464');
  t.match((inspect.Healthcheck ?? inspect.Config.Healthcheck)?.Test.join(' '), /SSEC_HEALTHCHECK_URL/, 'HEALTHCHECK kept (docker format)');
  t.ok(inspect.Config.Env.includes('SSEC_HEALTHCHECK_URL=http://127.0.0.1:9464/healthz'), 'with its URL in the environment');
  const mods = podman(['run', '--rm', '--entrypoint', 'node', image, '-e', "console.log(require('fs').readdirSync('/app/node_modules').join(' '))"], env, 120_000);
  t.match(mods.stdout, /prom-client/, 'production dependencies are in the image');
  t.notMatch(mods.stdout, /\b(typescript|tap|@aws-sdk)\b/, 'development dependencies are not');
  t.comment(`image size ${(inspect.Size / 1e6).toFixed(0)} MB`);

  const admin = await freePort();
  const https = await freePort();
  const r = podman(['run', '-d', '--network=host', '--read-only', '--tmpfs', '/var/lib/ssec-gateway:rw,size=16m,U',
    '-e', `SSEC_HEALTHCHECK_URL=http://127.0.0.1:${admin}/healthz`, image,
    'serve', '--host', '127.0.0.1', '--admin-host', '127.0.0.1', '--https-port', String(https), '--admin-port', String(admin),
    '--upstream', 'http://127.0.0.1:9', '--state-dir', '/var/lib/ssec-gateway'], env, 120_000);
  t.equal(r.status, 0, 'podman run -d --read-only', { stderr: r.stderr });
  cid = r.stdout.trim();
  let status = 0;
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    try { status = (await fetch(`http://127.0.0.1:${admin}/healthz`)).status; if (status === 200) break; } catch { /* starting */ }
    await new Promise((res) => setTimeout(res, 200));
  }
  t.equal(status, 200, `the running container answers /healthz (after ${((Date.now() - t1) / 1000).toFixed(1)} s of build+run)`, { logs: status === 200 ? undefined : podman(['logs', cid], env).stdout });
  const metrics = await (await fetch(`http://127.0.0.1:${admin}/metrics`)).text();
  t.match(metrics, /ssec_gateway_key_exposures_total 0/, '/metrics answers too');
  const uid = podman(['exec', cid, 'node', '-e', 'console.log(process.getuid())'], env);
  t.equal(uid.stdout.trim(), '10001', 'the gateway runs as uid 10001');
  const hc = podman(['healthcheck', 'run', cid], env);
  t.equal(hc.status, 0, 'podman healthcheck run: the image\'s HEALTHCHECK passes', { stdout: hc.stdout, stderr: hc.stderr });
});
