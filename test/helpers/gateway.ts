/**
 * Starts the real gateway (`bin/ssec-gateway.js serve`, built by `npm test`'s build step) as a
 * child process on free loopback ports and captures everything it prints, so tests can assert on
 * its logs (e.g. that no key material ever appears) and on its memory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface GatewayProcess {
  /** https://127.0.0.1:PORT */
  url: string;
  /** http://127.0.0.1:PORT when started with a plaintext listener */
  httpUrl?: string;
  adminUrl: string;
  /** the self-signed certificate to trust */
  caFile: string;
  stateDir: string;
  child: ChildProcess;
  /** everything printed so far (stdout + stderr) */
  output(): string;
  /** parsed JSON log lines so far */
  logs(): Record<string, unknown>[];
  /** peak resident set size in bytes (VmHWM), and the current one */
  memory(): { peak: number; current: number };
  stop(): Promise<void>;
}

export async function startGateway(opts: { upstream: string; args?: string[]; env?: Record<string, string>; plaintext?: boolean; stateDir?: string }): Promise<GatewayProcess> {
  const stateDir = opts.stateDir ?? mkdtempSync(join(tmpdir(), 'ssec-gw-'));
  const args = [join(REPO, 'bin', 'ssec-gateway.js'), 'serve', '--upstream', opts.upstream, '--https-port', '0', '--admin-port', '0', '--state-dir', stateDir,
    ...(opts.plaintext ? ['--http-port', '0'] : []),
    // one process unless the test is about workers: memory() and the logs are then those of the process that serves
    ...(opts.args?.includes('--workers') ? [] : ['--workers', '1']), ...(opts.args ?? [])];
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('SSEC_GATEWAY_')) env[k] = v;
  // tap's process-info hook wraps spawn() and puts itself in every child's NODE_OPTIONS
  // (--import=…@tapjs/processinfo…), which cost the gateway ~30 MiB of RSS and CPU per request:
  // the gateway runs as users run it, through `env -u NODE_OPTIONS` (env execs node: same pid)
  delete env.NODE_OPTIONS;
  const child = spawn('/usr/bin/env', ['-u', 'NODE_OPTIONS', process.execPath, ...args], { env: { ...env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => { out += c.toString('utf8'); });
  child.stderr!.on('data', (c: Buffer) => { out += c.toString('utf8'); });
  const logs = () => out.split('\n').filter((l) => l.startsWith('{')).map((l) => { try { return JSON.parse(l) as Record<string, unknown>; } catch { return {}; } });
  const listening = await new Promise<Record<string, { port: number }>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway did not start in 15 s:\n${out}`)), 15000);
    const check = () => {
      const l = logs().find((x) => x.msg === 'listening');
      if (l) { clearTimeout(timer); child.stdout!.off('data', check); resolve(l as unknown as Record<string, { port: number }>); }
    };
    child.stdout!.on('data', check);
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`gateway exited with ${code}:\n${out}`)); });
  });
  child.removeAllListeners('exit');
  const memory = () => {
    const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
    const kb = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) * 1024;
    return { peak: kb('VmHWM'), current: kb('VmRSS') };
  };
  return {
    url: `https://127.0.0.1:${listening.https!.port}`,
    httpUrl: listening.http ? `http://127.0.0.1:${listening.http.port}` : undefined,
    adminUrl: `http://127.0.0.1:${listening.admin!.port}`,
    caFile: join(stateDir, 'tls', 'cert.pem'),
    stateDir, child, output: () => out, logs, memory,
    stop: () => new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 5000).unref();
    }),
  };
}
