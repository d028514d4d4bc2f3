// Renders the dashboard's panels from live Prometheus data into a PNG: an HTML page laid out on
// Grafana's 24-column grid (gridPos), time series drawn with uPlot (the chart library Grafana uses),
// stat panels as big numbers, screenshotted by headless Debian chromium. An approximation of the
// dashboard, not Grafana itself.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DashboardJson } from './dashboard.js';
import { dataPanels, substitute } from './dashboard.js';
import type { Prometheus } from './prometheus.js';
import { NPM_TOOLS, ensureTools, requireCommand } from './tools.js';

const ROW = 26;
const WIDTH = 1280;

function legend(fmt: string | undefined, metric: Record<string, string>): string {
  if (!fmt || fmt === '__auto') return Object.entries(metric).filter(([k]) => k !== '__name__').map(([k, v]) => `${k}=${v}`).join(', ') || 'value';
  return fmt.replace(/\{\{\s*(\w+)\s*\}\}/g, (_, k: string) => metric[k] ?? '');
}

export async function renderDashboard(prom: Prometheus, d: DashboardJson, out: string, range: { start: number; end: number }): Promise<number> {
  ensureTools();
  const chromium = requireCommand('chromium');
  const step = 1;
  const start = Math.floor(range.start);
  const end = Math.ceil(range.end);
  const panels: unknown[] = [];
  for (const p of d.panels) {
    if (p.type === 'row') { panels.push({ type: 'row', title: p.title, gridPos: p.gridPos }); continue; }
  }
  for (const p of dataPanels(d)) {
    const series: { label: string; values: (number | null)[] }[] = [];
    const ts: number[] = [];
    for (let x = start; x <= end; x += step) ts.push(x);
    for (const target of p.targets ?? []) {
      const expr = substitute(target.expr, { rateInterval: '15s', range: `${end - start}s` });
      const res = await prom.queryRange(expr, start, end, step);
      for (const r of res) {
        const byTs = new Map((r.values ?? []).map(([x, v]) => [Math.round(x), Number(v)]));
        series.push({ label: legend(target.legendFormat, r.metric), values: ts.map((x) => (byTs.has(x) && Number.isFinite(byTs.get(x)!) ? byTs.get(x)! : null)) });
      }
    }
    const fc = (p as unknown as { fieldConfig?: { defaults?: { unit?: string; decimals?: number; mappings?: { options?: Record<string, { text: string; color: string }> }[]; thresholds?: { steps: { value: number | null; color: string }[] } } } }).fieldConfig?.defaults;
    panels.push({ type: p.type, title: p.title, gridPos: p.gridPos, ts, series, unit: fc?.unit ?? '', decimals: fc?.decimals, mappings: fc?.mappings?.[0]?.options ?? {}, steps: fc?.thresholds?.steps ?? [] });
  }
  const uplotJs = readFileSync(join(NPM_TOOLS, 'uplot', 'dist', 'uPlot.iife.min.js'), 'utf8');
  const uplotCss = readFileSync(join(NPM_TOOLS, 'uplot', 'dist', 'uPlot.min.css'), 'utf8');
  const maxRow = Math.max(...(panels as { gridPos: { y: number; h: number } }[]).map((p) => p.gridPos.y + p.gridPos.h));
  const height = maxRow * ROW + 60;
  const html = `<!doctype html><html><head><meta charset="utf-8"><style>${uplotCss}
body{margin:0;background:#111217;color:#ccccdc;font:12px Inter,Helvetica,Arial,sans-serif}
h1{font-size:15px;margin:8px 10px;font-weight:500}h1 small{color:#8e8e9a;font-weight:400}
#grid{position:relative;margin:0 6px;height:${maxRow * ROW}px}
.p{position:absolute;box-sizing:border-box;background:#181b1f;border:1px solid #2c3235;border-radius:2px;overflow:hidden}
.p .t{font-weight:500;padding:4px 8px;white-space:nowrap;overflow:hidden}
.row{position:absolute;font-size:13px;font-weight:600;padding:3px 4px;color:#d8d9da}
.stat{display:flex;align-items:center;justify-content:center;font-size:28px;font-weight:600;height:calc(100% - 26px)}
.uplot{font-size:10px}.u-legend{font-size:10px;line-height:1.1}.u-legend th{font-weight:400}.u-legend .u-marker{width:8px;height:8px}
</style><script>${uplotJs}</script></head><body>
<h1>ssec-gateway <small>— panels of grafana/ssec-gateway.json rendered from live Prometheus data (uPlot; not Grafana)</small></h1>
<div id="grid"></div><script>
const PANELS=${JSON.stringify(panels)};const ROW=${ROW};const COL=(${WIDTH}-12)/24;
const colors=['#73bf69','#f2cc0c','#5794f2','#ff9830','#f2495c','#b877d9','#8ab8ff','#96d98d','#fade2a','#ffb357'];
function fmt(v,u){if(v==null||!isFinite(v))return'–';const a=Math.abs(v);
if(u==='percentunit')return(v*100).toFixed(a<0.1?2:1)+'%';
if(u==='s')return a>=1?v.toFixed(2)+' s':a>=0.001?(v*1000).toFixed(a<0.01?2:0)+' ms':(v*1e6).toFixed(0)+' µs';
if(u==='bytes'||u==='Bps'){const k=['B','KiB','MiB','GiB'];let i=0,x=v;while(Math.abs(x)>=1024&&i<3){x/=1024;i++}return x.toFixed(x<10?2:0)+' '+k[i]+(u==='Bps'?'/s':'')}
if(u==='reqps')return(a<10?v.toFixed(2):v.toFixed(0))+' req/s';
return a>=1000?(v/1000).toFixed(1)+'k':a<1&&a>0?v.toFixed(3):v.toFixed(a%1?2:0)}
const g=document.getElementById('grid');
for(const p of PANELS){const gp=p.gridPos;
 if(p.type==='row'){const r=document.createElement('div');r.className='row';r.style.cssText='left:0;top:'+gp.y*ROW+'px;width:100%';r.textContent=p.title;g.appendChild(r);continue}
 const el=document.createElement('div');el.className='p';const w=gp.w*COL-6,h=gp.h*ROW-6;
 el.style.cssText='left:'+(gp.x*COL+3)+'px;top:'+(gp.y*ROW+3)+'px;width:'+w+'px;height:'+h+'px';
 el.innerHTML='<div class="t">'+p.title+'</div>';g.appendChild(el);
 if(p.type==='stat'){let v=null;for(const s of p.series)for(let i=s.values.length-1;i>=0;i--)if(s.values[i]!=null){v=(v??0)+s.values[i];break}
  const m=v!=null?p.mappings[String(Math.round(v))]:null;let color='#73bf69';for(const st of p.steps)if(st.value==null||v>=st.value)color=st.color;
  const c={green:'#73bf69',red:'#f2495c',orange:'#ff9830'}[m?m.color:color]||color;
  const s=document.createElement('div');s.className='stat';s.style.color=c;s.textContent=m?m.text:(p.decimals!=null&&v!=null?(p.unit==='percentunit'?(v*100).toFixed(p.decimals)+'%':v.toFixed(p.decimals)):fmt(v,p.unit));el.appendChild(s);continue}
 const data=[p.ts,...p.series.map(s=>s.values)];
 new uPlot({width:w-4,height:h-26-Math.min(40,14*Math.ceil(p.series.length/3)),legend:{show:true,live:false},cursor:{show:false},
  scales:{x:{time:true}},axes:[{stroke:'#8e8e9a',grid:{stroke:'#2c3235'},ticks:{stroke:'#2c3235'},size:28},
  {stroke:'#8e8e9a',grid:{stroke:'#2c3235'},ticks:{stroke:'#2c3235'},size:76,values:(u,vs)=>vs.map(v=>fmt(v,p.unit))}],
  series:[{},...p.series.map((s,i)=>({label:s.label,stroke:colors[i%colors.length],width:1.5,fill:colors[i%colors.length]+'22',spanGaps:true}))]},data,el)}
</script></body></html>`;
  const dir = mkdtempSync(join(tmpdir(), 'ssec-render-'));
  try {
    const page = join(dir, 'dashboard.html');
    writeFileSync(page, html);
    const r = spawnSync(chromium, ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--hide-scrollbars',
      `--user-data-dir=${join(dir, 'chr')}`, `--window-size=${WIDTH},${height}`, `--screenshot=${out}`, `file://${page}`], { encoding: 'utf8', timeout: 60_000 });
    if (r.status !== 0) throw new Error(`chromium exited ${r.status}: ${r.stderr}`);
    return statSync(out).size;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
