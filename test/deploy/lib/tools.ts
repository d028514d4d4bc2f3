// Offline deploy tooling for the tests in test/deploy/: the real helm and kubectl binaries and the
// schema packages that scripts/tools.sh puts into .tools/, plus the Debian tools (promtool, yamllint).
// Nothing here is a stand-in: a missing tool fails the test with the command that installs it.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseAllDocuments } from 'yaml';

export const REPO = fileURLToPath(new URL('../../../', import.meta.url));
export const TOOLS = process.env.SSEC_TOOLS_DIR || join(REPO, '.tools');
export const NPM_TOOLS = join(TOOLS, 'npm', 'node_modules');
export const HELM = join(TOOLS, 'bin', 'helm');
export const KUBECTL = join(TOOLS, 'bin', 'kubectl');
export const CHART = join(REPO, 'helm', 'ssec-gateway');

let ensured = false;
/** Runs scripts/tools.sh (npm part; milliseconds when already there). */
export function ensureTools(): void {
  if (ensured) return;
  const r = spawnSync('bash', [join(REPO, 'scripts', 'tools.sh')], { encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0) throw new Error(`scripts/tools.sh failed (exit ${r.status}):\n${r.stderr}${r.stdout}`);
  ensured = true;
}

const APT: Record<string, string> = { promtool: 'prometheus', prometheus: 'prometheus', yamllint: 'yamllint', chromium: 'chromium', podman: 'podman' };

/** Absolute path of a command, or a thrown error naming the Debian package and the install command. */
export function requireCommand(cmd: string): string {
  const r = spawnSync('bash', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  const path = r.stdout.trim();
  if (r.status !== 0 || !path) {
    throw new Error(`${cmd} is not installed: run \`bash scripts/tools.sh apt\` (Debian package ${APT[cmd] ?? cmd}; CI's .ci/run does this)`);
  }
  return path;
}

export function hasCommand(cmd: string): boolean {
  return spawnSync('bash', ['-c', `command -v ${cmd}`]).status === 0;
}

/** Runs a command; returns stdout; throws with stderr on a non-zero exit. */
export function run(cmd: string, args: string[], opts: { cwd?: string; input?: string; env?: NodeJS.ProcessEnv; timeout?: number } = {}): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', cwd: opts.cwd ?? REPO, input: opts.input, env: opts.env ?? process.env, timeout: opts.timeout ?? 120_000, maxBuffer: 64 << 20 });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}:\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** Like run, but returns status and output instead of throwing. */
export function tryRun(cmd: string, args: string[], opts: { cwd?: string; input?: string } = {}): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', cwd: opts.cwd ?? REPO, input: opts.input, timeout: 120_000, maxBuffer: 64 << 20 });
  return { status: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? String(r.error ?? '') };
}

export function helm(args: string[]): string {
  ensureTools();
  // helm logs an INFO line for each symlinked file (files/ links to prometheus/ and grafana/): not an error
  return run(HELM, args);
}

export function kustomize(dir: string, extra: string[] = []): string {
  ensureTools();
  return run(KUBECTL, ['kustomize', dir, ...extra]);
}

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [k: string]: unknown;
}

/** Parses multi-document YAML as Kubernetes/Helm do (YAML 1.1), failing on any parse error or duplicate key. */
export function parseManifests(text: string, source: string): K8sObject[] {
  const out: K8sObject[] = [];
  for (const doc of parseAllDocuments(text, { version: '1.1', uniqueKeys: true })) {
    if (doc.errors.length) throw new Error(`${source}: ${doc.errors.map((e) => e.message).join('; ')}`);
    const o = doc.toJS() as K8sObject | null;
    if (o === null || o === undefined) continue;
    out.push(o);
  }
  return out;
}

/** `kubernetes-types` module of an apiVersion: core → core/v1, networking.k8s.io/v1 → networking/v1. */
function typesModule(apiVersion: string): string {
  if (!apiVersion.includes('/')) return `kubernetes-types/core/${apiVersion}`;
  const [group, version] = apiVersion.split('/') as [string, string];
  return `kubernetes-types/${group.replace(/\.authorization\.k8s\.io$/, '').replace(/\.k8s\.io$/, '')}/${version}`;
}

const CRD_GROUPS: Record<string, string> = { 'monitoring.coreos.com': '@kubernetes-models/prometheus-operator' };

/** The kubernetes-models class for an object (built-in API or a CRD we know). */
async function modelClass(o: K8sObject): Promise<new (d: unknown) => { validate(): void }> {
  const [g, v] = o.apiVersion.includes('/') ? (o.apiVersion.split('/') as [string, string]) : ['', o.apiVersion];
  const spec = g === '' ? `kubernetes-models/${v}/${o.kind}` : CRD_GROUPS[g] ? `${CRD_GROUPS[g]}/${g}/${v}/${o.kind}` : `kubernetes-models/${g}/${v}/${o.kind}`;
  // resolved inside .tools/npm: not a dependency of the project itself
  const mod = (await import(pathToFileURL(resolveTool(spec)).href)) as Record<string, new (d: unknown) => { validate(): void }>;
  const cls = mod[o.kind];
  if (!cls) throw new Error(`no kubernetes-models class ${o.kind} in ${spec}`);
  return cls;
}

/** Resolves a package subpath inside .tools/npm/node_modules (ESM exports: the "import" condition). */
export function resolveTool(spec: string): string {
  const parts = spec.split('/');
  const pkgName = spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
  const sub = parts.slice(spec.startsWith('@') ? 2 : 1).join('/');
  const base = join(NPM_TOOLS, pkgName);
  for (const cand of [`${sub}.js`, `${sub}/index.js`, sub]) {
    const p = join(base, cand);
    if (sub && existsSync(p) && !p.endsWith('/')) return p;
  }
  throw new Error(`cannot resolve ${spec} in ${NPM_TOOLS} (run bash scripts/tools.sh)`);
}

export interface ValidationProblem { source: string; object: string; message: string }

/**
 * Schema checks of rendered manifests, both ways offline-tooling.md describes:
 *  A. kubernetes-models: the OpenAPI validators (types, required fields, formats), CRDs included.
 *  B. kubernetes-types (built-in APIs, k8s 1.30) and @kubernetes-models/prometheus-operator's
 *     interfaces (CRDs) with `tsc --strict`: excess-property checks find unknown or misspelled
 *     fields, and a missing module finds removed APIs.
 * Returns every problem found (empty when all is well).
 */
export async function validateManifests(sets: { source: string; objects: K8sObject[] }[], name: string): Promise<ValidationProblem[]> {
  ensureTools();
  const problems: ValidationProblem[] = [];
  // A
  for (const { source, objects } of sets) {
    for (const o of objects) {
      const id = `${o.kind}/${o.metadata?.name}`;
      try {
        const Cls = await modelClass(o);
        new Cls(o).validate();
      } catch (e) {
        problems.push({ source, object: id, message: `kubernetes-models: ${(e as Error).message}` });
      }
    }
  }
  // B
  const dir = join(TOOLS, 'npm', 'check');
  mkdirSync(dir, { recursive: true });
  const imports = new Map<string, string>();
  const lines: string[] = [];
  const where: string[] = [];
  let i = 0;
  for (const { source, objects } of sets) {
    for (const o of objects) {
      const [g, v] = o.apiVersion.includes('/') ? (o.apiVersion.split('/') as [string, string]) : ['', o.apiVersion];
      let typeName: string;
      if (CRD_GROUPS[g]) {
        typeName = `I${o.kind}_${g.replace(/\W/g, '_')}_${v}`;
        imports.set(typeName, `import type { I${o.kind} as ${typeName} } from '${CRD_GROUPS[g]}/${g}/${v}/${o.kind}';`);
      } else {
        const mod = typesModule(o.apiVersion);
        typeName = `${o.kind}_${mod.replace(/\W/g, '_')}`;
        imports.set(typeName, `import type { ${o.kind} as ${typeName} } from '${mod}';`);
      }
      lines.push(`export const m${i}: ${typeName} = ${JSON.stringify(o, null, 1)};`);
      where.push(`${source}: ${o.kind}/${o.metadata?.name}`);
      i++;
    }
  }
  const file = join(dir, `${name}-${process.pid}.mts`);
  writeFileSync(file, `// generated by test/deploy/lib/tools.ts (${name})\n${[...imports.values()].join('\n')}\n${lines.join('\n')}\n`);
  const r = tsc([file]);
  const src = readFileSync(file, 'utf8').split('\n');
  rmSync(file, { force: true });
  if (r) {
    // map each error line back to the object it belongs to
    const text = r.split('\n').filter((l) => l.includes('error TS'));
    for (const l of text) {
      const mm = /\((\d+),\d+\)/.exec(l);
      let obj = '?';
      if (mm) {
        for (let ln = Number(mm[1]) - 1; ln >= 0; ln--) {
          const d = /^export const m(\d+):/.exec(src[ln] ?? '');
          if (d) { obj = where[Number(d[1])]!; break; }
        }
      }
      problems.push({ source: obj.split(': ')[0]!, object: obj.split(': ')[1] ?? obj, message: `tsc: ${l.replace(/^.*error /, '')}` });
    }
  }
  return problems;
}

/** tsc --noEmit --strict over files under .tools/npm (so their imports resolve to .tools/npm/node_modules). Returns the error text, or '' when clean. */
export function tsc(files: string[]): string {
  const tscBin = join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');
  const r = spawnSync(process.execPath, [tscBin, '--noEmit', '--strict', '--skipLibCheck', '--target', 'es2022', '--module', 'preserve', '--moduleResolution', 'bundler', ...files],
    { encoding: 'utf8', cwd: join(TOOLS, 'npm'), timeout: 120_000, maxBuffer: 64 << 20 });
  if (r.status === 0) return '';
  return `${r.stdout}${r.stderr}` || `tsc exited ${r.status}`;
}

export function formatProblems(ps: ValidationProblem[]): string {
  return ps.map((p) => `${p.source}: ${p.object}: ${p.message}`).join('\n');
}

