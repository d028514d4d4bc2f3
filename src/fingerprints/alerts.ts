/**
 * Key alerts. Each one is a metric (`ssec_gateway_key_alerts_total{kind}`), a structured log event
 * (`event: "key_alert"`) and, when `alerts.webhookUrl` is set, an Alertmanager-compatible POST
 * (a JSON list of {labels, annotations, startsAt}) sent in the background with bounded retries.
 * Raising an alert never waits and never throws.
 */
import type { Logger } from '../logging/logger.js';
import type { Metrics } from '../metrics/registry.js';
import { shortId } from '../sse-c/customer-key.js';
import type { AlertKind } from './types.js';

export interface KeyAlert {
  kind: AlertKind;
  fingerprint: string;
  at: Date;
  summary: string;
  /** extra annotations / log fields (never key material: addresses, ids, counts) */
  details?: Record<string, string | number | undefined>;
}

const ALERT_META: Record<AlertKind, { alertname: string; severity: 'critical' | 'warning' }> = {
  exposed: { alertname: 'SseCKeyExposed', severity: 'critical' },
  compromised_used: { alertname: 'SseCCompromisedKeyUsed', severity: 'critical' },
  rotation_due: { alertname: 'SseCKeyRotationDue', severity: 'warning' },
  retired_used: { alertname: 'SseCRetiredKeyUsed', severity: 'warning' },
};

export interface AlertmanagerAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
}

/** The Alertmanager v2 `postableAlert` of one key alert. */
export function toAlertmanager(a: KeyAlert): AlertmanagerAlert {
  const meta = ALERT_META[a.kind];
  const annotations: Record<string, string> = { summary: a.summary, description: a.summary };
  for (const [k, v] of Object.entries(a.details ?? {})) if (v !== undefined) annotations[k] = String(v);
  return {
    labels: { alertname: meta.alertname, fingerprint: shortId(a.fingerprint), severity: meta.severity, kind: a.kind, service: 'ssec-gateway' },
    annotations,
    startsAt: a.at.toISOString(),
  };
}

export interface WebhookOptions {
  /** alerts kept while the receiver is failing; beyond, new ones are dropped (logged) */
  maxQueue?: number;
  /** alerts per POST */
  maxBatch?: number;
  /** attempts per POST (first try included) */
  attempts?: number;
  /** backoff before retry n: baseDelayMs * 2^(n-1), ±20 % jitter, at most maxDelayMs */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** per attempt */
  timeoutMs?: number;
}

/** POSTs alert batches one at a time, in order, with retries and exponential backoff. */
export class WebhookSender {
  readonly #url: string;
  readonly #log: Logger;
  readonly #o: Required<WebhookOptions>;
  #queue: AlertmanagerAlert[] = [];
  #running: Promise<void> | undefined;
  #closed = false;
  #wake: (() => void) | undefined;
  readonly #abort = new AbortController();
  #droppedSinceLog = 0;
  #lastDropLog = 0;
  /** counts, for tests and the log */
  sent = 0;
  failed = 0;
  dropped = 0;

  constructor(url: string, log: Logger, opts: WebhookOptions = {}) {
    this.#url = url;
    this.#log = log;
    this.#o = { maxQueue: 1000, maxBatch: 50, attempts: 5, baseDelayMs: 500, maxDelayMs: 30_000, timeoutMs: 5000, ...opts };
  }

  send(alert: AlertmanagerAlert): void {
    if (this.#closed) return;
    if (this.#queue.length >= this.#o.maxQueue) {
      this.dropped++;
      this.#droppedSinceLog++;
      const now = Date.now();
      if (now - this.#lastDropLog > 10_000) {
        this.#log.warn({ event: 'alert_webhook_dropped', dropped: this.#droppedSinceLog, queue: this.#o.maxQueue }, 'alert webhook queue full: alerts dropped');
        this.#droppedSinceLog = 0;
        this.#lastDropLog = now;
      }
      return;
    }
    this.#queue.push(alert);
    this.#running ??= this.#run().finally(() => { this.#running = undefined; });
  }

  /** Resolves when nothing is queued or in flight. */
  async idle(): Promise<void> {
    while (this.#running) await this.#running;
  }

  /** Stops retrying; gives what is queued until timeoutMs to go out. */
  async close(timeoutMs = 2000): Promise<void> {
    const t = setTimeout(() => { this.#closed = true; this.#wake?.(); this.#abort.abort(); }, timeoutMs);
    t.unref();
    try { await this.idle(); } finally { clearTimeout(t); this.#closed = true; }
  }

  async #run(): Promise<void> {
    while (this.#queue.length && !this.#closed) {
      const batch = this.#queue.slice(0, this.#o.maxBatch);
      const ok = await this.#post(batch);
      this.#queue.splice(0, batch.length);
      if (ok) this.sent += batch.length;
      else this.failed += batch.length;
    }
  }

  async #post(batch: AlertmanagerAlert[]): Promise<boolean> {
    const body = JSON.stringify(batch);
    let last = '';
    for (let attempt = 1; attempt <= this.#o.attempts; attempt++) {
      if (attempt > 1) {
        const base = Math.min(this.#o.baseDelayMs * 2 ** (attempt - 2), this.#o.maxDelayMs);
        await this.#sleep(base * (0.8 + Math.random() * 0.4));
        if (this.#closed) break;
      }
      try {
        const res = await fetch(this.#url, {
          method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.any([AbortSignal.timeout(this.#o.timeoutMs), this.#abort.signal]),
        });
        await res.arrayBuffer().catch(() => undefined);
        if (res.ok) return true;
        last = `HTTP ${res.status}`;
        if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429) break; // the payload will not get better
      } catch (e) {
        if (this.#closed) { last = 'closed'; break; }
        last = (e as Error).name === 'TimeoutError' ? 'timeout' : ((e as NodeJS.ErrnoException).cause as NodeJS.ErrnoException | undefined)?.code ?? (e as Error).message;
      }
      this.#log.warn({ event: 'alert_webhook_retry', attempt, error: last }, 'alert webhook failed');
    }
    this.#log.error({ event: 'alert_webhook_failed', alerts: batch.length, error: last }, 'alert webhook gave up');
    return false;
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => { this.#wake = undefined; resolve(); }, ms);
      this.#wake = () => { clearTimeout(t); this.#wake = undefined; resolve(); };
    });
  }
}

export class Alerter {
  readonly webhook?: WebhookSender;
  readonly #metrics: Metrics;
  readonly #log: Logger;

  constructor(deps: { metrics: Metrics; log: Logger; webhookUrl?: string; webhook?: WebhookOptions }) {
    this.#metrics = deps.metrics;
    this.#log = deps.log;
    if (deps.webhookUrl) this.webhook = new WebhookSender(deps.webhookUrl, deps.log, deps.webhook);
  }

  raise(a: KeyAlert): void {
    try {
      this.#metrics.keyAlerts.inc({ kind: a.kind });
      const meta = ALERT_META[a.kind];
      const fields = { event: 'key_alert', alert: a.kind, alertname: meta.alertname, severity: meta.severity, fingerprint: a.fingerprint, keyId: shortId(a.fingerprint), at: a.at.toISOString(), ...a.details };
      if (meta.severity === 'critical') this.#log.error(fields, a.summary);
      else this.#log.warn(fields, a.summary);
      this.webhook?.send(toAlertmanager(a));
    } catch {
      // an alert must never break its caller
    }
  }

  async close(timeoutMs?: number): Promise<void> {
    await this.webhook?.close(timeoutMs);
  }
}
