// The Helm chart (helm/ssec-gateway), checked offline with the real helm v4 binary: lint --strict,
// values.schema.json, template for the defaults, each example and an everything-on combination;
// the rendered manifests validated against the Kubernetes schemas (kubernetes-models + tsc with
// kubernetes-types), cross-referenced, the config accepted by the gateway's own loader, and the
// PrometheusRule and dashboard equal to prometheus/ and grafana/.
import t from 'tap';
import { readFileSync, readdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { CHART, REPO, ensureTools, formatProblems, helm, parseManifests, requireCommand, run, tryRun, validateManifests, type K8sObject, HELM } from './lib/tools.js';
import { crossCheck, gatewayConfigCheck } from './lib/manifests.js';
import { RULES_FILE } from './lib/generated.js';

ensureTools();
const EXAMPLES = readdirSync(join(CHART, 'examples')).filter((f) => f.endsWith('.yaml')).sort();
const API = ['--api-versions', 'monitoring.coreos.com/v1'];

/** Everything the chart can render, on at once. */
const FULL = [
  '--set', 'plaintext.enabled=true', '--set', 'ingress.enabled=true', '--set', 'ingress.className=nginx',
  '--set', 'ingress.hosts[0].host=s3.example.org', '--set', 'ingress.tls[0].secretName=tls', '--set', 'ingress.tls[0].hosts[0]=s3.example.org',
  '--set', 'autoscaling.enabled=true', '--set', 'autoscaling.targetMemoryUtilizationPercentage=80',
  '--set', 'networkPolicy.enabled=true', '--set', 'networkPolicy.egress.enabled=true',
  '--set', 'serviceMonitor.enabled=true', '--set', 'prometheusRule.enabled=true', '--set', 'dashboard.enabled=true',
  '--set', 'secrets.tls.name=tls', '--set', 'secrets.clients.name=clients', '--set', 'secrets.keyring.name=keyring',
  '--set', 'secrets.fingerprint.name=fp', '--set', 'secrets.upstreamCredentials.name=up', '--set', 'secrets.upstreamCA.name=ca',
  '--set', 'extraEnv[0].name=NODE_OPTIONS', '--set', 'extraEnv[0].value=--max-old-space-size=256',
];

const renders: { name: string; args: string[] }[] = [
  { name: 'defaults', args: [] },
  ...EXAMPLES.map((e) => ({ name: `examples/${e}`, args: ['-f', join(CHART, 'examples', e)] })),
  { name: 'everything on', args: FULL },
];

const rendered = new Map<string, K8sObject[]>();

t.test('helm lint --strict: defaults and every example', async (t) => {
  t.ok(EXAMPLES.includes('sidecar.yaml') && EXAMPLES.includes('ingress-rgw.yaml') && EXAMPLES.includes('legacy-endpoint.yaml'), `examples of the three shapes: ${EXAMPLES.join(', ')}`);
  for (const r of renders) {
    const out = helm(['lint', '--strict', CHART, ...r.args]);
    t.match(out, /1 chart\(s\) linted, 0 chart\(s\) failed/, `lint ${r.name}`);
  }
});

t.test('helm template renders every shape', async (t) => {
  for (const r of renders) {
    const out = helm(['template', 'ssec', CHART, '-n', 's3', ...API, ...r.args]);
    const objs = parseManifests(out, r.name);
    rendered.set(r.name, objs);
    t.ok(objs.length > 0, `${r.name}: ${objs.map((o) => o.kind).join(', ')}`);
  }
  const kinds = (n: string) => new Set(rendered.get(n)!.map((o) => o.kind));
  t.same([...kinds('defaults')].sort(), ['ConfigMap', 'Deployment', 'PodDisruptionBudget', 'Service', 'ServiceAccount'], 'defaults: a plain gateway');
  for (const k of ['Deployment', 'Service', 'Ingress', 'ConfigMap', 'HorizontalPodAutoscaler', 'PodDisruptionBudget', 'NetworkPolicy', 'ServiceMonitor', 'PrometheusRule', 'ServiceAccount']) {
    t.ok(kinds('everything on').has(k), `everything on renders a ${k}`);
  }
  const sidecar = kinds('examples/sidecar.yaml');
  t.notOk(sidecar.has('Deployment') || sidecar.has('Service'), 'mode sidecar renders no Deployment or Service');
  t.ok(sidecar.has('PodMonitor') && sidecar.has('ConfigMap'), 'mode sidecar renders the config and a PodMonitor');
});

t.test('rendered manifests validate against the Kubernetes schemas (and the check bites)', async (t) => {
  const sets = [...rendered].map(([source, objects]) => ({ source, objects }));
  // one deliberately broken copy, validated in the same tsc run: proves the checks report
  const mutant = structuredClone(rendered.get('defaults')!);
  const dep = mutant.find((o) => o.kind === 'Deployment') as unknown as { spec: { replicas: unknown; template: { spec: { containers: Record<string, unknown>[] } } } };
  dep.spec.replicas = '2';
  dep.spec.template.spec.containers[0]!.imagePullPolicyy = 'Always';
  const problems = await validateManifests([...sets, { source: 'mutant', objects: mutant }], 'helm');
  t.equal(formatProblems(problems.filter((p) => p.source !== 'mutant')), '', `kubernetes-models + kubernetes-types/tsc: ${sets.reduce((n, s) => n + s.objects.length, 0)} objects`);
  const bad = formatProblems(problems.filter((p) => p.source === 'mutant'));
  t.match(bad, /replicas must be integer/, 'mutant: kubernetes-models reports a string replicas');
  t.match(bad, /imagePullPolicyy/, 'mutant: tsc reports an unknown field');
});

t.test('references resolve, the security policy holds, the config fits the pod', async (t) => {
  for (const [name, objs] of rendered) {
    const { problems, gateways } = crossCheck(objs, name);
    t.equal(problems.join('\n'), '', `${name}: ${gateways.length} gateway container(s) checked`);
  }
  const dep = rendered.get('defaults')!.find((o) => o.kind === 'Deployment') as unknown as { spec: { template: { spec: { securityContext: Record<string, unknown>; containers: { securityContext: Record<string, unknown> }[] } } } };
  t.match(dep.spec.template.spec.securityContext, { runAsNonRoot: true, runAsUser: 10001, seccompProfile: { type: 'RuntimeDefault' } }, 'pod: non-root uid 10001, seccomp RuntimeDefault');
  t.match(dep.spec.template.spec.containers[0]!.securityContext, { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } }, 'container: read-only root, no escalation, no capabilities');
});

t.test('worker processes: one per CPU requested by default, or the workers value', async (t) => {
  type Env = { name: string; value?: string; valueFrom?: { resourceFieldRef?: { resource: string; divisor: string } } };
  const envOf = (objs: K8sObject[]) => ((objs.find((o) => o.kind === 'Deployment') as unknown as { spec: { template: { spec: { containers: { env?: Env[] }[] } } } })
    .spec.template.spec.containers[0]!.env ?? []).find((e) => e.name === 'SSEC_GATEWAY_WORKERS');
  t.same(envOf(rendered.get('defaults')!), { name: 'SSEC_GATEWAY_WORKERS', valueFrom: { resourceFieldRef: { resource: 'requests.cpu', divisor: '1' } } }, 'defaults: from resources.requests.cpu (downward API)');
  const three = parseManifests(helm(['template', 'ssec', CHART, '-n', 's3', ...API, '--set', 'workers=3']), 'workers=3');
  t.same(envOf(three), { name: 'SSEC_GATEWAY_WORKERS', value: '3' }, '--set workers=3');
  const full = envOf(rendered.get('everything on')!);
  t.ok(full, 'with extraEnv too');
});

t.test('the rendered config.yaml is accepted by the gateway (announced settings tolerated)', async (t) => {
  for (const [name, objs] of rendered) {
    for (const cm of objs.filter((o) => o.kind === 'ConfigMap' && (o as unknown as { data?: Record<string, string> }).data?.['config.yaml'])) {
      const text = (cm as unknown as { data: Record<string, string> }).data['config.yaml']!;
      const r = gatewayConfigCheck(text);
      t.equal(r.problems.join('\n'), '', `${name}: config check${r.tolerated.length ? ` (not implemented yet: ${r.tolerated.map((x) => /"([^"]+)"/.exec(x)?.[1] ?? x).join(', ')})` : ''}`);
    }
  }
  const full = rendered.get('everything on')!.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'ssec-ssec-gateway') as unknown as { data: Record<string, string> };
  t.match(parseYaml(full.data['config.yaml']!), {
    listen: { host: '0.0.0.0', httpsPort: 8443, httpPort: 8080, adminHost: '0.0.0.0', adminPort: 9464 },
    tls: { cert: '/etc/ssec-gateway/tls/tls.crt', key: '/etc/ssec-gateway/tls/tls.key' },
    fingerprint: { secret: 'file:/var/run/secrets/ssec-gateway/fingerprint/secret' },
    upstream: { accessKeyId: 'file:/var/run/secrets/ssec-gateway/upstream/accessKeyId', secretAccessKey: 'file:/var/run/secrets/ssec-gateway/upstream/secretAccessKey', ca: '/etc/ssec-gateway/upstream-ca/ca.crt' },
    auth: { clientsFile: '/etc/ssec-gateway/clients/clients.yaml' },
    keyring: { dir: '/etc/ssec-gateway/keyring' },
  }, 'secrets become file: references to their mounts');
  const side = rendered.get('examples/sidecar.yaml')!.find((o) => o.kind === 'ConfigMap' && (o as unknown as { data: Record<string, string> }).data['config.yaml']) as unknown as { data: Record<string, string> };
  t.match(parseYaml(side.data['config.yaml']!), { listen: { host: '127.0.0.1', httpPort: 8080 }, auth: { mode: 'none' } }, 'sidecar: data listeners on loopback only, auth.mode none');
});

t.test('PrometheusRule = prometheus/ssec-gateway.rules.yaml; dashboard ConfigMap = grafana/ssec-gateway.json', async (t) => {
  const rules = parseYaml(readFileSync(RULES_FILE, 'utf8')) as unknown;
  const dashboard = readFileSync(join(REPO, 'grafana', 'ssec-gateway.json'), 'utf8');
  for (const [name, objs] of rendered) {
    for (const pr of objs.filter((o) => o.kind === 'PrometheusRule')) {
      t.ok(isDeepStrictEqual((pr as unknown as { spec: unknown }).spec, rules), `${name}: PrometheusRule spec equals the rules file`);
    }
    for (const cm of objs.filter((o) => o.kind === 'ConfigMap' && o.metadata.labels?.grafana_dashboard !== undefined)) {
      t.equal(cm.metadata.labels!.grafana_dashboard, '1', `${name}: Grafana sidecar label grafana_dashboard: "1"`);
      t.equal((cm as unknown as { data: Record<string, string> }).data['ssec-gateway.json'], dashboard.trim(), `${name}: dashboard JSON equals grafana/ssec-gateway.json`);
    }
  }
  // the rules the operator will load parse with promtool too
  const promtool = requireCommand('promtool');
  const dir = mkdtempSync(join(tmpdir(), 'ssec-helm-rules-'));
  try {
    const pr = rendered.get('everything on')!.find((o) => o.kind === 'PrometheusRule') as unknown as { spec: unknown };
    const file = join(dir, 'rules.yaml');
    writeFileSync(file, JSON.stringify(pr.spec));
    t.match(run(promtool, ['check', 'rules', file]), /SUCCESS/, 'promtool check rules on the rendered PrometheusRule spec');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

t.test('values.schema.json rejects bad values', async (t) => {
  for (const [args, msg] of [
    [['--set', 'replicaCount=0'], /replicaCount.*minimum/],
    [['--set', 'servce.port=443'], /additional properties 'servce' not allowed/],
    [['--set', 'config.upstream.url=ftp://rgw'], /does not match pattern/],
    [['--set', 'mode=daemonset'], /mode.*(value must be one of|enum)/],
    [['--set', 'ports.admin=70000'], /maximum/],
  ] as [string[], RegExp][]) {
    const r = tryRun(HELM, ['template', 'x', CHART, ...args]);
    t.not(r.status, 0, `helm template ${args.join(' ')} fails`);
    t.match(r.stderr, msg, 'with the schema error');
  }
  const ing = tryRun(HELM, ['template', 'x', CHART, '--set', 'ingress.enabled=true']);
  t.match(ing.stderr, /ingress.enabled needs at least one entry in ingress.hosts/, 'an Ingress without hosts fails with a clear message');
  const kv = tryRun(HELM, ['template', 'x', CHART, '--kube-version', '1.24.0']);
  t.match(kv.stderr, /kubeVersion/, 'Kubernetes < 1.25 is refused');
});

t.test('NOTES.txt and helm package', async (t) => {
  const notes = helm(['install', 'billing', CHART, '-n', 'billing', '--dry-run=client', '-f', join(CHART, 'examples', 'sidecar.yaml')]);
  t.match(notes, /kubectl kustomize deploy\/sidecar/, 'sidecar NOTES point to the kustomize overlay');
  t.match(notes, /- name: ssec-gateway\n\s+image:/, 'and print the container to add');
  const gw = helm(['install', 's3', CHART, '-n', 's3', '--dry-run=client']);
  t.match(gw, /WARNING: secrets.tls.name is not set/, 'defaults warn about the self-signed certificate');
  const dir = mkdtempSync(join(tmpdir(), 'ssec-helm-pkg-'));
  try {
    helm(['package', CHART, '-d', dir]);
    const tgz = join(dir, 'ssec-gateway-0.1.0.tgz');
    const listing = run('tar', ['tzf', tgz]);
    t.match(listing, /ssec-gateway\/files\/ssec-gateway\.rules\.yaml/, 'the package holds the rules file (symlink resolved)');
    const fromPkg = parseManifests(helm(['template', 's', tgz, '--set', 'prometheusRule.enabled=true', '--show-only', 'templates/prometheusrule.yaml']), 'package');
    t.ok(isDeepStrictEqual((fromPkg[0] as unknown as { spec: unknown }).spec, parseYaml(readFileSync(RULES_FILE, 'utf8'))), 'and renders the same rules');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
