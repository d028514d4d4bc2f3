// `workers: 0` = one worker per CPU this process may use: the affinity mask capped by the cgroup
// CPU quota (a pod with limits.cpu 2 on a 64-core node must not fork 64 processes).
import t from 'tap';
import os from 'node:os';
import { cpuBudget, workerCount } from '../../src/server/workers.js';
import { loadConfig } from '../../src/config/load.js';

const cpus = os.availableParallelism();
const files = (m: Record<string, string>) => (f: string) => { if (f in m) return m[f]!; throw Object.assign(new Error(`ENOENT ${f}`), { code: 'ENOENT' }); };

t.test('cgroup v2 cpu.max', async (t) => {
  t.equal(cpuBudget(files({ '/sys/fs/cgroup/cpu.max': 'max 100000\n' })), cpus, 'no quota: every CPU of the affinity mask');
  t.equal(cpuBudget(files({ '/sys/fs/cgroup/cpu.max': '100000 100000\n' })), 1, 'quota of 1 CPU');
  t.equal(cpuBudget(files({ '/sys/fs/cgroup/cpu.max': '50000 100000\n' })), 1, 'half a CPU: still one worker');
  t.equal(cpuBudget(files({ '/sys/fs/cgroup/cpu.max': '150000 100000\n' })), Math.min(cpus, 2), '1.5 CPUs: rounded up, never above the CPUs there are');
  t.equal(cpuBudget(files({ '/sys/fs/cgroup/cpu.max': '6400000 100000\n' })), cpus, 'a quota above the machine: the machine');
});

t.test('cgroup v1 cfs quota', async (t) => {
  t.equal(cpuBudget(files({ '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '100000\n', '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000\n' })), 1);
  t.equal(cpuBudget(files({ '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '-1\n', '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000\n' })), cpus, '-1: no quota');
  t.equal(cpuBudget(files({})), cpus, 'no cgroup files at all');
});

t.test('the workers setting', async (t) => {
  t.equal(workerCount(loadConfig({ env: {} })), cpuBudget(), 'default 0: the CPU budget');
  t.equal(workerCount(loadConfig({ env: { SSEC_GATEWAY_WORKERS: '3' } })), 3, 'SSEC_GATEWAY_WORKERS=3');
  t.throws(() => loadConfig({ env: { SSEC_GATEWAY_WORKERS: '-1' } }), /workers/, 'negative refused');
});
