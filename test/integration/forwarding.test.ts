/**
 * The forwarder against a recording upstream: what the upstream receives (headers, body, aborts)
 * and what the client sees when the upstream misbehaves. A fake upstream is right here: these are
 * framing and failure cases a real RGW cannot be made to produce on demand.
 */
import t from 'tap';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { startGateway, type GatewayProcess } from '../helpers/gateway.js';

interface Seen { method: string; url: string; headers: http.IncomingHttpHeaders; body: Buffer; complete: boolean }

type Behaviour = (req: http.IncomingMessage, res: http.ServerResponse) => void;

async function recordingUpstream(behaviour: () => Behaviour | undefined) {
  const seen: Seen[] = [];
  const server = http.createServer();
  const handle = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const entry: Seen = { method: req.method!, url: req.url!, headers: req.headers, body: Buffer.alloc(0), complete: false };
    seen.push(entry);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => { entry.complete = true; entry.body = Buffer.concat(chunks); });
    req.on('close', () => { entry.body = Buffer.concat(chunks); });
    const b = behaviour();
    if (b) return b(req, res);
    req.on('end', () => res.writeHead(200, { 'x-amz-request-id': 'up-1', 'content-type': 'text/plain', connection: 'keep-alive', 'keep-alive': 'timeout=5' }).end('ok'));
  };
  server.on('request', handle);
  server.on('checkContinue', (req, res) => {
    const b = behaviour();
    if (b) return handle(req, res);
    res.writeContinue();
    handle(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return { seen, url: `http://127.0.0.1:${port}`, close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}

let behaviour: Behaviour | undefined;
const upstream = await recordingUpstream(() => behaviour);
const gw: GatewayProcess = await startGateway({ upstream: upstream.url, plaintext: true, args: ['--upstream-timeout-ms', '1500'] });
const ca = readFileSync(gw.caFile);
const gwPort = Number(new URL(gw.url).port);
t.teardown(async () => { await gw.stop(); await upstream.close(); });
t.beforeEach(() => { behaviour = undefined; upstream.seen.length = 0; });

function h1(opts: { method?: string; path: string; headers?: Record<string, string>; body?: Buffer | string; plaintext?: boolean }): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const mod = opts.plaintext ? http : https;
    const base = new URL(opts.plaintext ? gw.httpUrl! : gw.url);
    const req = (mod.request as typeof https.request)({ host: '127.0.0.1', port: base.port, method: opts.method ?? 'GET', path: opts.path, headers: opts.headers, ca, servername: 'localhost', agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

t.test('upstream gets the client headers minus hop-by-hop and forwarding claims, plus X-Forwarded-Proto: https', async (t) => {
  const r = await h1({ method: 'PUT', path: '/bkt/some%20key?x=1', body: 'hello', headers: {
    'x-forwarded-proto': 'http', forwarded: 'for=6.6.6.6;proto=http', 'x-forwarded-host': 'evil', te: 'trailers', connection: 'keep-alive, x-drop-me',
    'x-drop-me': '1', 'keep-alive': 'timeout=1', 'x-amz-meta-a': 'b', 'content-type': 'text/plain', host: 'client.example:9999',
  } });
  t.equal(r.status, 200);
  t.equal(r.body, 'ok');
  t.equal(r.headers['x-amz-request-id'], 'up-1', 'upstream response headers relayed');
  // node:http states the gateway's own keep-alive (limits.idleTimeoutMs); the upstream's timeout=5 must not pass
  t.not(r.headers['keep-alive'], 'timeout=5', 'upstream hop-by-hop response header dropped');
  t.match(String(r.headers['keep-alive'] ?? 'timeout=60'), /^timeout=60$/, 'the keep-alive stated is the gateway\'s own');
  const s = upstream.seen[0]!;
  t.equal(s.url, '/bkt/some%20key?x=1', 'path and query forwarded verbatim');
  t.equal(s.headers['x-forwarded-proto'], 'https');
  t.equal(s.headers.forwarded, 'proto=https');
  t.equal(s.headers.host, 'client.example:9999', 'the client Host is kept (it is signed)');
  t.equal(s.headers['x-amz-meta-a'], 'b');
  t.notOk(s.headers['x-forwarded-host'], 'client forwarding claims removed');
  t.notOk(s.headers['x-drop-me'], 'a header named in Connection is hop-by-hop');
  t.notOk(s.headers.te);
  t.equal(s.body.toString(), 'hello');
});

t.test('HTTP/2 client: :authority becomes Host, body and response round-trip', async (t) => {
  const session = http2.connect(gw.url, { ca });
  t.teardown(() => session.close());
  const stream = session.request({ ':method': 'PUT', ':path': '/bkt/h2obj', 'content-type': 'text/plain', 'content-length': '6' });
  stream.end('h2body');
  const status = await new Promise<number>((r) => stream.on('response', (h) => r(h[':status'] as number)));
  let body = '';
  for await (const c of stream) body += c;
  t.equal(status, 200);
  t.equal(body, 'ok');
  const s = upstream.seen[0]!;
  t.equal(s.headers.host, `127.0.0.1:${gwPort}`);
  t.equal(s.body.toString(), 'h2body');
});

t.test('Expect: 100-continue is relayed: an upstream refusal reaches the client before it sends the body', async (t) => {
  behaviour = (_req, res) => { res.writeHead(403, { 'content-type': 'application/xml' }).end('<?xml version="1.0"?><Error><Code>AccessDenied</Code><Message></Message></Error>'); };
  const result = await new Promise<{ status: number; body: string; continued: boolean }>((resolve, reject) => {
    let continued = false;
    const req = https.request({ host: '127.0.0.1', port: gwPort, method: 'PUT', path: '/bkt/refused', ca, agent: false, headers: { expect: '100-continue', 'content-length': '5' } }, (res) => {
      let body = '';
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode!, body, continued }));
    });
    req.on('continue', () => { continued = true; req.end('12345'); });
    req.on('error', reject);
    req.flushHeaders();
  });
  t.equal(result.status, 403);
  t.equal(result.continued, false, 'the client was never told to send the body');
  t.match(result.body, /<Message>Access Denied<\/Message>/, 'empty upstream Message filled');
  t.equal(upstream.seen[0]!.body.length, 0, 'no body reached the upstream');
});

t.test('Expect: 100-continue accepted upstream → body flows', async (t) => {
  const result = await new Promise<{ status: number; continued: boolean }>((resolve, reject) => {
    let continued = false;
    const req = https.request({ host: '127.0.0.1', port: gwPort, method: 'PUT', path: '/bkt/accepted', ca, agent: false, headers: { expect: '100-continue', 'content-length': '5' } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode!, continued }));
    });
    req.on('continue', () => { continued = true; req.end('12345'); });
    req.on('error', reject);
    req.flushHeaders();
  });
  t.equal(result.status, 200);
  t.equal(result.continued, true);
  t.equal(upstream.seen[0]!.body.toString(), '12345');
  t.equal(upstream.seen[0]!.headers.expect, '100-continue', 'the upstream was asked too');
});

t.test('Expect: 100-continue upload slower than upstream.timeoutMs: the timeout waits for the body to end (was a 504 mid-upload)', async (t) => {
  // the gateway under test has --upstream-timeout-ms 1500; this body takes ~3 s to send
  const pieces = 10;
  const result = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port: gwPort, method: 'PUT', path: '/bkt/slow-upload', ca, agent: false, headers: { expect: '100-continue', 'content-length': String(pieces * 1000) } }, (res) => {
      let body = '';
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('continue', () => {
      let sent = 0;
      const tick = setInterval(() => {
        req.write(Buffer.alloc(1000, 5));
        if (++sent === pieces) { clearInterval(tick); req.end(); }
      }, 300);
    });
    req.on('error', reject);
    req.flushHeaders();
  });
  t.equal(result.status, 200, `the upload completed (${result.body.slice(0, 120)})`);
  t.equal(upstream.seen[0]!.body.length, pieces * 1000, 'the upstream got the whole body');
});

t.test('client abort mid-upload aborts the upstream request (no complete body upstream)', async (t) => {
  behaviour = () => { /* never answer */ };
  const sock = net.connect(gwPort, '127.0.0.1');
  const tls = await import('node:tls');
  const s = tls.connect({ socket: sock, ca, servername: 'localhost', ALPNProtocols: ['http/1.1'] });
  await new Promise((r) => s.once('secureConnect', r));
  s.write(`PUT /bkt/aborted HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000000\r\n\r\n`);
  s.write(Buffer.alloc(100000, 1));
  await waitFor(() => upstream.seen.length === 1 && (upstream.seen[0]!.body.length > 0 || true));
  s.destroy();
  await waitFor(() => upstream.seen[0]?.body !== undefined && !upstream.seen[0]!.complete && upstream.seen[0]!.body.length > 0);
  await new Promise((r) => setTimeout(r, 300));
  t.equal(upstream.seen[0]!.complete, false, 'the upstream never saw a complete body');
  t.ok(upstream.seen[0]!.body.length < 1000000);
});

t.test('client abort mid-download (HTTP/1.1 and HTTP/2) aborts the upstream response: its connection is closed, not left streaming', async (t) => {
  for (const proto of ['h1', 'h2'] as const) {
    let upstreamClosed = false;
    let sent = 0;
    behaviour = (_req, res) => {
      // an endless body, written as fast as the gateway takes it
      res.writeHead(200, { 'content-length': String(1 << 30) });
      const block = Buffer.alloc(64 << 10, 3);
      const pump = () => { while (!upstreamClosed && sent < 1 << 30 && res.write(block)) sent += block.length; };
      res.on('drain', pump);
      res.on('close', () => { upstreamClosed = true; });
      pump();
    };
    if (proto === 'h1') {
      await new Promise<void>((resolve) => {
        const req = https.request({ host: '127.0.0.1', port: gwPort, path: '/bkt/big-download', ca, agent: false }, (res) => {
          let n = 0;
          res.on('data', (c: Buffer) => { n += c.length; if (n > 1 << 20) { req.destroy(); resolve(); } });
        });
        req.on('error', () => resolve());
        req.end();
      });
    } else {
      const session = http2.connect(gw.url, { ca });
      const stream = session.request({ ':path': '/bkt/big-download-h2' });
      await new Promise<void>((resolve) => {
        let n = 0;
        stream.on('data', (c: Buffer) => { n += c.length; if (n > 1 << 20) { stream.close(http2.constants.NGHTTP2_CANCEL); resolve(); } });
        stream.on('error', () => resolve());
      });
      session.close();
    }
    await waitFor(() => upstreamClosed);
    t.ok(upstreamClosed, `${proto}: the upstream response was aborted`);
    t.ok(sent < 1 << 30, `${proto}: after ${sent} of ${1 << 30} bytes`);
  }
});

t.test('truncated upstream body: HTTP/1.1 client sees an aborted response, not a short success', async (t) => {
  behaviour = (_req, res) => {
    res.writeHead(200, { 'content-length': '100000' });
    res.write(Buffer.alloc(50000, 7));
    setTimeout(() => res.socket!.destroy(), 50);
  };
  const outcome = await new Promise<string>((resolve) => {
    const req = https.request({ host: '127.0.0.1', port: gwPort, path: '/bkt/trunc', ca, agent: false }, (res) => {
      let n = 0;
      res.on('data', (c: Buffer) => { n += c.length; });
      res.on('end', () => resolve(`end after ${n}`));
      res.on('aborted', () => resolve('aborted'));
      res.on('error', () => resolve('aborted'));
    });
    req.on('error', () => resolve('aborted'));
    req.end();
  });
  t.equal(outcome, 'aborted');
});

t.test('truncated upstream body: HTTP/2 client gets a stream reset', async (t) => {
  behaviour = (_req, res) => {
    res.writeHead(200, { 'content-length': '100000' });
    res.write(Buffer.alloc(50000, 7));
    setTimeout(() => res.socket!.destroy(), 50);
  };
  const session = http2.connect(gw.url, { ca });
  t.teardown(() => session.close());
  const stream = session.request({ ':path': '/bkt/trunc2' });
  const outcome = await new Promise<string>((resolve) => {
    stream.on('data', () => {});
    stream.on('end', () => resolve('end'));
    stream.on('close', () => resolve(stream.rstCode ? `reset ${stream.rstCode}` : 'closed'));
    stream.on('error', () => {});
  });
  t.match(outcome, /^reset [1-9]/);
});

t.test('upstream error with empty <Message/> is filled; HEAD errors carry no body', async (t) => {
  behaviour = (req, res) => {
    const body = '<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code><Message></Message><RequestId>tx1</RequestId></Error>';
    if (req.method === 'HEAD') res.writeHead(404, { 'content-type': 'application/xml' }).end();
    else res.writeHead(404, { 'content-type': 'application/xml', 'content-length': String(body.length) }).end(body);
  };
  const r = await h1({ path: '/bkt/missing' });
  t.equal(r.status, 404);
  t.match(r.body, '<Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><RequestId>tx1</RequestId>');
  t.equal(Number(r.headers['content-length']), Buffer.byteLength(r.body), 'content-length matches the rewritten body');
  const h = await h1({ method: 'HEAD', path: '/bkt/missing' });
  t.equal(h.status, 404);
  t.equal(h.body, '');
});

t.test('upstream unreachable → 503 ServiceUnavailable as S3 XML', async (t) => {
  const dead = await startGateway({ upstream: 'http://127.0.0.1:1' });
  t.teardown(() => dead.stop());
  const r = await new Promise<{ status: number; body: string; id?: string }>((resolve, reject) => {
    https.get(`${dead.url}/bkt/k`, { ca: readFileSync(dead.caFile), agent: false }, (res) => {
      let body = '';
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode!, body, id: res.headers['x-amz-request-id'] as string }));
    }).on('error', reject);
  });
  t.equal(r.status, 503);
  t.match(r.body, /<Code>ServiceUnavailable<\/Code><Message>[^<]+<\/Message>/);
  t.ok(r.id && r.body.includes(`<RequestId>${r.id}</RequestId>`), 'request id in header and body');
  await waitFor(() => dead.logs().some((l) => l.msg === 'request'));
  const line = dead.logs().find((l) => l.msg === 'request')!;
  t.match(String(line.failure), /upstream_unreachable: ECONNREFUSED/, 'the reason is in the log');
});

t.test('no upstream response in time → 504', async (t) => {
  behaviour = () => { /* hold */ };
  const r = await h1({ path: '/bkt/slow' });
  t.equal(r.status, 504);
  t.match(r.body, /<Code>GatewayTimeout<\/Code>/);
});

t.test('plaintext listener: SSE-C refused before the body is read, nothing forwarded, connection closed', async (t) => {
  const r = await new Promise<{ status: number; body: string; connection?: string; continued: boolean }>((resolve, reject) => {
    let continued = false;
    const req = http.request({ host: '127.0.0.1', port: new URL(gw.httpUrl!).port, method: 'PUT', path: '/bkt/plain', agent: false, headers: {
      expect: '100-continue', 'content-length': '5',
      'x-amz-server-side-encryption-customer-algorithm': 'AES256',
      'x-amz-server-side-encryption-customer-key': 'pO3upElrwuEXSoFwCfnZPdSsmt/xWeFa0N9KgDijwVs=',
      'x-amz-server-side-encryption-customer-key-md5': 'DWygnHRtgiJ77HCm+1rvHw==',
    } }, (res) => {
      let body = '';
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode!, body, connection: res.headers.connection, continued }));
    });
    req.on('continue', () => { continued = true; req.end('12345'); });
    req.on('error', reject);
    req.flushHeaders();
  });
  t.equal(r.status, 400);
  t.match(r.body, '<Code>InvalidRequest</Code><Message>Requests specifying Server Side Encryption with Customer provided keys must be made over a secure connection.</Message>');
  t.equal(r.connection, 'close');
  t.equal(r.continued, false, 'the body was never asked for');
  t.equal(upstream.seen.length, 0, 'nothing reached the upstream');
  const plain = await h1({ path: '/bkt/plain-ok', plaintext: true });
  t.equal(plain.status, 200, 'a request without SSE-C headers is forwarded');
  t.equal(upstream.seen[0]!.headers['x-forwarded-proto'], 'http', 'and not claimed to be https');
});

async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
