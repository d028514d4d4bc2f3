// Semantic checks of rendered manifests that no schema catches: every reference resolves (Service →
// pods and named ports, Ingress → Service port, ServiceMonitor → Service port, HPA → Deployment,
// PDB/NetworkPolicy → pods, volumes → mounts, config files → mounted paths), the security policy
// (non-root, read-only root, no privilege escalation, all capabilities dropped), the probes, and
// the gateway's own config loader accepting the rendered config.yaml.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { K8sObject } from './tools.js';
import { REPO } from './tools.js';

type Rec = Record<string, unknown>;
interface Container { name: string; ports?: { name?: string; containerPort: number }[]; securityContext?: Rec; volumeMounts?: { name: string; mountPath: string; subPath?: string }[];
  livenessProbe?: { httpGet?: { path: string; port: string | number } }; readinessProbe?: { httpGet?: { path: string; port: string | number } }; startupProbe?: { httpGet?: { path: string; port: string | number } }; args?: string[] }
interface PodSpec { containers: Container[]; volumes?: ({ name: string } & Rec)[]; securityContext?: Rec; serviceAccountName?: string }
interface Workload { obj: K8sObject; labels: Record<string, string>; pod: PodSpec }

const spec = (o: K8sObject) => (o as unknown as { spec: Rec }).spec;

function matches(selector: Record<string, string> | undefined, labels: Record<string, string>): boolean {
  if (!selector || Object.keys(selector).length === 0) return false; // an empty selector is never what we mean
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

export interface GatewayInstance { source: string; workload: string; container: Container; pod: PodSpec; configText: string; config: Rec }

/** Cross-reference and policy checks. Returns problems (empty when fine) and the gateway containers found. */
export function crossCheck(objects: K8sObject[], source: string): { problems: string[]; gateways: GatewayInstance[]; secrets: string[] } {
  const problems: string[] = [];
  const p = (msg: string) => problems.push(`${source}: ${msg}`);
  const byKind = (k: string) => objects.filter((o) => o.kind === k);
  const names = new Set(objects.map((o) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`));
  const has = (kind: string, ns: string | undefined, name: string) => names.has(`${kind}/${ns ?? ''}/${name}`);
  const workloads: Workload[] = byKind('Deployment').map((d) => {
    const t = spec(d).template as { metadata?: { labels?: Record<string, string> }; spec: PodSpec };
    return { obj: d, labels: t.metadata?.labels ?? {}, pod: t.spec };
  });
  const gateways: GatewayInstance[] = [];
  const secrets = new Set<string>();

  for (const w of workloads) {
    const id = `Deployment/${w.obj.metadata.name}`;
    const sel = (spec(w.obj).selector as { matchLabels?: Record<string, string> }).matchLabels;
    if (!matches(sel, w.labels)) p(`${id}: selector ${JSON.stringify(sel)} does not match its pod labels`);
    const sa = w.pod.serviceAccountName;
    if (sa && sa !== 'default' && !has('ServiceAccount', w.obj.metadata.namespace, sa)) p(`${id}: serviceAccountName ${sa} is not rendered`);
    const podSc = w.pod.securityContext ?? {};
    const volumes = new Map((w.pod.volumes ?? []).map((v) => [v.name, v]));
    for (const v of w.pod.volumes ?? []) {
      const cm = (v.configMap as { name?: string } | undefined)?.name;
      if (cm && !has('ConfigMap', w.obj.metadata.namespace, cm)) p(`${id}: volume ${v.name} refers to ConfigMap ${cm}, which is not rendered`);
      const sec = (v.secret as { secretName?: string } | undefined)?.secretName;
      if (sec) secrets.add(sec);
    }
    for (const c of w.pod.containers) {
      const sc = c.securityContext ?? {};
      const cid = `${id} container ${c.name}`;
      if (!(sc.runAsNonRoot ?? podSc.runAsNonRoot)) p(`${cid}: runAsNonRoot is not set`);
      const uid = (sc.runAsUser ?? podSc.runAsUser) as number | undefined;
      if (uid === 0) p(`${cid}: runs as uid 0`);
      if (sc.readOnlyRootFilesystem !== true) p(`${cid}: readOnlyRootFilesystem is not true`);
      if (sc.allowPrivilegeEscalation !== false) p(`${cid}: allowPrivilegeEscalation is not false`);
      if (!((sc.capabilities as { drop?: string[] } | undefined)?.drop ?? []).includes('ALL')) p(`${cid}: capabilities do not drop ALL`);
      for (const m of c.volumeMounts ?? []) if (!volumes.has(m.name)) p(`${cid}: volumeMount ${m.name} has no volume`);
      if (c.name !== 'ssec-gateway') continue;
      // the gateway container: probes, ports, config
      const ports = new Map((c.ports ?? []).filter((x) => x.name).map((x) => [x.name!, x.containerPort]));
      if (c.livenessProbe?.httpGet?.path !== '/healthz' || c.livenessProbe.httpGet.port !== 'gw-admin') p(`${cid}: livenessProbe must be GET /healthz on gw-admin`);
      if (c.readinessProbe?.httpGet?.path !== '/readyz' || c.readinessProbe.httpGet.port !== 'gw-admin') p(`${cid}: readinessProbe must be GET /readyz on gw-admin`);
      if (!ports.has('gw-admin')) p(`${cid}: no port named gw-admin`);
      const cfgMount = (c.volumeMounts ?? []).find((m) => m.mountPath === '/etc/ssec-gateway/config.yaml');
      const argCfg = c.args?.[c.args.indexOf('--config') + 1];
      if (argCfg !== '/etc/ssec-gateway/config.yaml') p(`${cid}: args do not pass --config /etc/ssec-gateway/config.yaml`);
      const cmName = cfgMount ? (volumes.get(cfgMount.name)?.configMap as { name?: string } | undefined)?.name : undefined;
      const cm = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === cmName && o.metadata.namespace === w.obj.metadata.namespace);
      const text = (cm as unknown as { data?: Record<string, string> } | undefined)?.data?.[cfgMount?.subPath ?? 'config.yaml'];
      if (!text) { p(`${cid}: no config.yaml mounted at /etc/ssec-gateway/config.yaml`); continue; }
      const config = parseYaml(text) as Rec;
      const listen = (config.listen ?? {}) as Rec;
      if (listen.adminPort !== ports.get('gw-admin')) p(`${cid}: listen.adminPort ${listen.adminPort} != container port gw-admin ${ports.get('gw-admin')}`);
      if (listen.adminHost !== '0.0.0.0') p(`${cid}: listen.adminHost must be 0.0.0.0 so the kubelet's probes and Prometheus reach it`);
      if (ports.has('gw-https') && listen.httpsPort !== ports.get('gw-https')) p(`${cid}: listen.httpsPort ${listen.httpsPort} != container port gw-https ${ports.get('gw-https')}`);
      if (ports.has('gw-http') && listen.httpPort !== ports.get('gw-http')) p(`${cid}: listen.httpPort ${listen.httpPort} != container port gw-http`);
      const st = config.stateDir as string | undefined;
      if (!st || !(c.volumeMounts ?? []).some((m) => m.mountPath === st)) p(`${cid}: stateDir ${st} is not a writable mount (the root filesystem is read-only)`);
      // every file the config names must be inside a mount
      for (const { path: f } of configFiles(config)) {
        if (!(c.volumeMounts ?? []).some((m) => f === m.mountPath || f.startsWith(m.mountPath.replace(/\/?$/, '/')))) p(`${cid}: config refers to ${f}, which is not mounted`);
      }
      gateways.push({ source, workload: id, container: c, pod: w.pod, configText: text, config });
    }
  }
  const podsIn = (ns: string | undefined) => workloads.filter((w) => w.obj.metadata.namespace === ns);
  for (const s of byKind('Service')) {
    const sel = spec(s).selector as Record<string, string> | undefined;
    const target = podsIn(s.metadata.namespace).find((w) => matches(sel, w.labels));
    if (!target) { p(`Service/${s.metadata.name}: selector ${JSON.stringify(sel)} matches no rendered pod`); continue; }
    const cports = new Set(target.pod.containers.flatMap((c) => (c.ports ?? []).map((x) => x.name)));
    for (const port of spec(s).ports as { name: string; targetPort: string | number }[]) {
      if (typeof port.targetPort === 'string' && !cports.has(port.targetPort)) p(`Service/${s.metadata.name}: targetPort ${port.targetPort} is not a container port of ${target.obj.metadata.name}`);
    }
  }
  const svcPorts = (ns: string | undefined, name: string) => {
    const s = objects.find((o) => o.kind === 'Service' && o.metadata.name === name && o.metadata.namespace === ns);
    return s ? new Set((spec(s).ports as { name: string }[]).map((x) => x.name)) : undefined;
  };
  for (const ing of byKind('Ingress')) {
    for (const rule of (spec(ing).rules ?? []) as { http: { paths: { backend: { service: { name: string; port: { name?: string } } } }[] } }[]) {
      for (const path of rule.http.paths) {
        const b = path.backend.service;
        const ports = svcPorts(ing.metadata.namespace, b.name);
        if (!ports) p(`Ingress/${ing.metadata.name}: backend Service ${b.name} is not rendered`);
        else if (b.port.name && !ports.has(b.port.name)) p(`Ingress/${ing.metadata.name}: Service ${b.name} has no port ${b.port.name}`);
      }
    }
  }
  for (const h of byKind('HorizontalPodAutoscaler')) {
    const ref = spec(h).scaleTargetRef as { kind: string; name: string };
    if (!has(ref.kind, h.metadata.namespace, ref.name)) p(`HPA/${h.metadata.name}: scale target ${ref.kind}/${ref.name} is not rendered`);
    const d = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === ref.name);
    if (d && spec(d).replicas !== undefined && (spec(d).replicas as number) < (spec(h).minReplicas as number)) {
      // fine: the HPA raises it; noted only
    }
  }
  for (const pdb of byKind('PodDisruptionBudget')) {
    const sel = (spec(pdb).selector as { matchLabels?: Record<string, string> } | undefined)?.matchLabels;
    if (!podsIn(pdb.metadata.namespace).some((w) => matches(sel, w.labels))) p(`PodDisruptionBudget/${pdb.metadata.name}: selector ${JSON.stringify(sel)} matches no rendered pod`);
  }
  for (const np of byKind('NetworkPolicy')) {
    const sel = (spec(np).podSelector as { matchLabels?: Record<string, string> }).matchLabels;
    const target = podsIn(np.metadata.namespace).find((w) => matches(sel, w.labels));
    if (!target) {
      // a policy for pods of another release (e.g. RGW in rook-ceph) is fine when no workload of this output lives in its namespace
      if (podsIn(np.metadata.namespace).length) p(`NetworkPolicy/${np.metadata.name}: podSelector matches no rendered pod`);
      continue;
    }
    const cports = new Set(target.pod.containers.flatMap((c) => (c.ports ?? []).map((x) => x.name)));
    for (const rule of (spec(np).ingress ?? []) as { ports?: { port: string | number }[] }[]) {
      for (const port of rule.ports ?? []) if (typeof port.port === 'string' && !cports.has(port.port)) p(`NetworkPolicy/${np.metadata.name}: port ${port.port} is not a container port`);
    }
  }
  for (const sm of byKind('ServiceMonitor')) {
    const sel = (spec(sm).selector as { matchLabels?: Record<string, string> }).matchLabels;
    const svc = objects.find((o) => o.kind === 'Service' && o.metadata.namespace === sm.metadata.namespace && matches(sel, o.metadata.labels ?? {}));
    if (!svc) { p(`ServiceMonitor/${sm.metadata.name}: selector matches no rendered Service`); continue; }
    const ports = svcPorts(svc.metadata.namespace, svc.metadata.name)!;
    for (const e of spec(sm).endpoints as { port: string }[]) if (!ports.has(e.port)) p(`ServiceMonitor/${sm.metadata.name}: Service ${svc.metadata.name} has no port ${e.port}`);
  }
  for (const pm of byKind('PodMonitor')) {
    const sel = (spec(pm).selector as { matchLabels?: Record<string, string> }).matchLabels;
    const target = podsIn(pm.metadata.namespace).find((w) => matches(sel, w.labels));
    if (!target) continue; // helm sidecar mode: the app's pods are not part of the release
    const cports = new Set(target.pod.containers.flatMap((c) => (c.ports ?? []).map((x) => x.name)));
    for (const e of spec(pm).podMetricsEndpoints as { port: string }[]) if (!cports.has(e.port)) p(`PodMonitor/${pm.metadata.name}: pod has no port ${e.port}`);
  }
  return { problems, gateways, secrets: [...secrets] };
}

/** Paths of files and directories a gateway config refers to (file-typed settings and file: secrets). */
export function configFiles(config: Rec): { key: string; path: string; dir: boolean }[] {
  const out: { key: string; path: string; dir: boolean }[] = [];
  const walk = (v: unknown, path: string) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) { for (const [k, x] of Object.entries(v)) walk(x, path ? `${path}.${k}` : k); return; }
    if (typeof v !== 'string') return;
    const dir = /(^|\.)dir$/i.test(path);
    if (v.startsWith('file:')) out.push({ key: path, path: v.slice(5), dir });
    else if (v.startsWith('/') && path !== 'stateDir') out.push({ key: path, path: v, dir });
  };
  walk(config, '');
  return out;
}

/**
 * Settings announced for the gateway but maybe not in src/config/schema.ts yet: a rendered config
 * may use them, and the loader's "unknown key" for them is tolerated (nothing else is).
 */
export const ANNOUNCED: Record<string, readonly string[] | true> = {
  'auth.mode': ['passthrough', 'sigv4', 'none'],
  'auth.clientsFile': true,
  'upstream.accessKeyId': true,
  'upstream.secretAccessKey': true,
  'upstream.credentials': ['static', 'env', 'chain'],
  'upstream.profile': ['auto', 'rgw16', 'rgw', 'aws', 'minio'],
  'keyring.dir': true,
  'fingerprint.secret': true,
  'redis.url': true,
  'keys.onExposed': ['deny', 'warn'],
  'rotation.maxAgeDays': true,
};

/**
 * Runs the real gateway's `config check` on a rendered config.yaml. The container paths it names
 * (/etc/ssec-gateway, /var/run/secrets/ssec-gateway, /var/lib/ssec-gateway) are mapped to a temp
 * dir holding stand-in files, so file-typed settings can be read. Returns the problems the loader
 * reported that are not explained by an announced-but-unimplemented setting.
 */
export function gatewayConfigCheck(configText: string): { problems: string[]; tolerated: string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'ssec-deploy-cfg-'));
  try {
    const map = (s: string) => s.replace(/(\/etc\/ssec-gateway|\/var\/run\/secrets\/ssec-gateway|\/var\/lib\/ssec-gateway)/g, (m) => join(dir, m));
    const text = map(configText);
    const config = parseYaml(text) as Rec;
    for (const f of configFiles(config)) {
      if (f.dir) { mkdirSync(f.path, { recursive: true }); continue; }
      mkdirSync(dirname(f.path), { recursive: true });
      writeFileSync(f.path, 'stand-in\n');
    }
    const file = join(dir, 'config.yaml');
    writeFileSync(file, text);
    const r = spawnSync(process.execPath, [join(REPO, 'bin', 'ssec-gateway.js'), 'config', 'check', '--config', file], { encoding: 'utf8', env: cleanEnv(), timeout: 30_000 });
    if (r.status === 0) return { problems: [], tolerated: [] };
    const lines = r.stderr.split('\n').filter((l) => l.trim().startsWith('- ')).map((l) => l.trim().slice(2).replaceAll(dir, ''));
    if (!lines.length) return { problems: [`config check exited ${r.status}: ${r.stderr}${r.stdout}`], tolerated: [] };
    const problems: string[] = [];
    const tolerated: string[] = [];
    for (const l of lines) {
      const unknown = /unknown key "([^"]+)"/.exec(l)?.[1];
      const badEnum = /^([\w.]+) \(from .*\): must be one of .*, got "([^"]+)"/.exec(l);
      if (unknown && Object.keys(ANNOUNCED).some((a) => a === unknown || a.startsWith(unknown + '.'))) tolerated.push(l);
      else if (badEnum && Array.isArray(ANNOUNCED[badEnum[1]!]) && (ANNOUNCED[badEnum[1]!] as string[]).includes(badEnum[2]!)) tolerated.push(l);
      else problems.push(l);
    }
    return { problems, tolerated };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('SSEC_GATEWAY_')) env[k] = v;
  return env;
}
