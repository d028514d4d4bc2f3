// A real Prometheus server (Debian package `prometheus`) on loopback, scraping local targets.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireCommand } from './tools.js';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export interface PromResult { metric: Record<string, string>; value?: [number, string]; values?: [number, string][] }

export interface Prometheus {
  url: string;
  query(expr: string, time?: number): Promise<PromResult[]>;
  queryRange(expr: string, start: number, end: number, step: number): Promise<PromResult[]>;
  get<T>(path: string): Promise<T>;
  output(): string;
  stop(): Promise<void>;
}

/** Starts prometheus with a 1 s scrape and evaluation interval; resolves when /-/ready answers. */
export async function startPrometheus(opts: { targets: string[]; job: string; ruleFiles?: string[] }): Promise<Prometheus> {
  const bin = requireCommand('prometheus');
  const dir = mkdtempSync(join(tmpdir(), 'ssec-prom-'));
  const port = await freePort();
  const config = {
    global: { scrape_interval: '1s', scrape_timeout: '900ms', evaluation_interval: '1s' },
    rule_files: opts.ruleFiles ?? [],
    scrape_configs: [{ job_name: opts.job, static_configs: [{ targets: opts.targets }] }],
  };
  writeFileSync(join(dir, 'prometheus.yml'), JSON.stringify(config));
  let out = '';
  const child: ChildProcess = spawn(bin, [
    `--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn', '--web.enable-lifecycle',
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (c: Buffer) => { out += c.toString(); });
  child.stderr!.on('data', (c: Buffer) => { out += c.toString(); });
  const url = `http://127.0.0.1:${port}`;
  const get = async <T>(path: string): Promise<T> => {
    const r = await fetch(url + path);
    const body = (await r.json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`prometheus ${path}: ${body.error ?? r.status}`);
    return body.data;
  };
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`prometheus exited ${child.exitCode}:\n${out}`);
    try { if ((await fetch(`${url}/-/ready`)).ok) break; } catch { /* not yet */ }
    if (Date.now() > deadline) throw new Error(`prometheus not ready in 15 s:\n${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    get,
    output: () => out,
    query: async (expr, time) => (await get<{ result: PromResult[] }>(`/api/v1/query?query=${encodeURIComponent(expr)}${time ? `&time=${time}` : ''}`)).result,
    queryRange: async (expr, start, end, step) => (await get<{ result: PromResult[] }>(`/api/v1/query_range?query=${encodeURIComponent(expr)}&start=${start}&end=${end}&step=${step}`)).result,
    stop: () => new Promise<void>((resolve) => {
      const done = () => { rmSync(dir, { recursive: true, force: true }); resolve(); };
      if (child.exitCode !== null) return done();
      child.once('exit', done);
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 5000).unref();
    }),
  };
}

/** Polls until `expr` returns at least `n` series (or throws after timeoutMs). */
export async function waitForSeries(p: Prometheus, expr: string, n: number, timeoutMs = 20_000): Promise<PromResult[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await p.query(expr);
    if (r.length >= n) return r;
    if (Date.now() > deadline) throw new Error(`${expr}: ${r.length} series after ${timeoutMs} ms, wanted ${n}\n${p.output()}`);
    await new Promise((res) => setTimeout(res, 250));
  }
}
