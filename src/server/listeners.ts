import http from 'node:http';
import http2, { constants as h2c } from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { GatewayConfig } from '../config/load.js';
import type { Metrics } from '../metrics/registry.js';
import type { Handler } from '../request/context.js';

/** A TLS connection that negotiated HTTP/2 (its session, not the socket, is what to close). */
const isH2 = (s: Socket): boolean => (s as TLSSocket).alpnProtocol === 'h2';

/**
 * Connections and HTTP/2 streams the gateway cut because their client stopped reading an answer
 * (Connections.idle): the request's log line says so instead of blaming the client for leaving.
 */
export const cutIdle = new WeakSet<object>();

/** HTTP/2 window: Node's default 64 KiB per stream caps an upload at 64 KiB per round trip (stack-notes.md). */
const H2_STREAM_WINDOW = 8 << 20;
const H2_SESSION_WINDOW = 32 << 20;

export interface Listener {
  server: http.Server | http2.Http2SecureServer;
  address(): AddressInfo;
  /** stop accepting, let in-flight requests finish, close idle connections; resolves when all are closed */
  close(graceMs: number): Promise<void>;
}

/**
 * Graceful shutdown needs to know which connections are idle: h2 sessions get GOAWAY
 * (session.close lets open streams finish); HTTP/1.1 sockets are closed once their current
 * request is done. After the grace period everything left is destroyed.
 */
class Connections {
  private readonly sockets = new Map<Socket, number>();
  private readonly sessions = new Set<http2.ServerHttp2Session>();
  /** HTTP/2: open streams per session (an idle session is one without any) */
  private readonly streams = new WeakMap<http2.ServerHttp2Session, Set<http2.ServerHttp2Stream>>();
  /** HTTP/1.1: the last request read on each socket (is its body complete?) */
  private readonly lastRequest = new WeakMap<Socket, http.IncomingMessage>();
  /** HTTP/1.1 sockets that sent bytes which do not parse: closed once their pending answers are out */
  private readonly closeWhenIdle = new WeakSet<Socket>();
  private draining = false;

  socket(s: Socket): void {
    this.sockets.set(s, 0);
    s.once('close', () => this.sockets.delete(s));
  }
  session(s: http2.ServerHttp2Session): void {
    this.sessions.add(s);
    s.once('close', () => this.sessions.delete(s));
    const open = new Set<http2.ServerHttp2Stream>();
    this.streams.set(s, open);
    s.on('stream', (stream) => {
      open.add(stream);
      stream.once('close', () => open.delete(stream));
    });
    if (this.draining) s.close();
  }
  /**
   * No byte on a connection for `limits.idleTimeoutMs`. With nothing in flight it is closed
   * (HTTP/2: GOAWAY, so the client knows not to send more). An answer that waits with bytes
   * queued for the client means the client stopped reading: that request is ended (HTTP/1.1: the
   * connection; HTTP/2: the stream, RST_STREAM CANCEL), which releases its upstream request.
   * A request waiting for a slow upstream has nothing queued and is left alone
   * (upstream.timeoutMs and limits.bodyTimeoutMs bound it).
   */
  idle(c: Socket | http2.ServerHttp2Session): void {
    const session = c as http2.ServerHttp2Session;
    const open = this.streams.get(session);
    if (open) {
      if (!open.size) { session.close(); return; }
      for (const st of open) if (st.writableLength > 0) { cutIdle.add(st); st.close(h2c.NGHTTP2_CANCEL); }
      return;
    }
    const socket = c as Socket;
    if (isH2(socket)) return; // its session has its own timeout
    if (!(this.sockets.get(socket) ?? 0)) socket.destroy();
    else if (socket.writableLength > 0) { cutIdle.add(socket); socket.destroy(); }
  }

  /** counts an HTTP/1.1 request on its socket (h2 streams are handled by session.close) */
  request(req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse): void {
    if (req.httpVersionMajor === 2) return;
    const s = req.socket as Socket;
    this.sockets.set(s, (this.sockets.get(s) ?? 0) + 1);
    this.lastRequest.set(s, req as http.IncomingMessage);
    res.once('close', () => {
      const n = (this.sockets.get(s) ?? 1) - 1;
      this.sockets.set(s, n);
      if ((this.draining || this.closeWhenIdle.has(s)) && n === 0) s.destroySoon();
    });
  }
  /**
   * HTTP/1.1 bytes that do not parse. Node's default handler writes its 400 at once, AHEAD of the
   * answer still pending for the request before them — the client then reads that 400 as the
   * answer to, say, a PUT that was stored (issue 9, defect 3). Here a pending answer goes out
   * first and the connection is closed after it, without a 400 that would be read as its answer.
   * A request whose own body is broken cannot be answered: its connection is closed at once, so
   * the upstream request is aborted and nothing half-sent is stored.
   */
  clientError(err: NodeJS.ErrnoException, socket: Socket): void {
    const pending = this.sockets.get(socket) ?? 0;
    const last = this.lastRequest.get(socket);
    if (pending > 0 && last?.complete) {
      this.closeWhenIdle.add(socket);
      return;
    }
    if (pending === 0 && socket.writable && err.code !== 'ECONNRESET') {
      const status = err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large'
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      setTimeout(() => socket.destroy(), 2_000).unref();
      return;
    }
    socket.destroy();
  }
  drain(): void {
    this.draining = true;
    for (const s of this.sessions) s.close();
    // HTTP/2 connections are closed by session.close() above, once their streams are done; their
    // sockets count no requests here. (They used to be told apart by `session.socket`, which is a
    // Proxy, never the TLSSocket: every HTTP/2 connection was cut at once on SIGTERM.)
    for (const [s, n] of this.sockets) if (n === 0 && !isH2(s)) s.destroySoon();
  }
  destroyAll(): void {
    for (const s of this.sessions) s.destroy();
    for (const s of this.sockets.keys()) s.destroy();
  }
}

function closer(server: http.Server | http2.Http2SecureServer, conns: Connections) {
  return (graceMs: number) => new Promise<void>((resolve) => {
    if (!server.listening) return resolve();
    const timer = setTimeout(() => conns.destroyAll(), graceMs);
    server.close(() => { clearTimeout(timer); resolve(); });
    conns.drain();
  });
}

function track(metrics: Metrics, socket: Socket | TLSSocket, protocol: string): void {
  metrics.connections.inc({ protocol });
  socket.once('close', () => metrics.connections.dec({ protocol }));
}

export type Limits = GatewayConfig['limits'];

/**
 * `limits.*` on a server. HTTP/1.1 on the HTTP/2 server (allowHTTP1) is served by node:http's
 * connection code, which reads these same properties from the server it is given.
 */
function applyLimits(server: http.Server | http2.Http2SecureServer, conns: Connections, limits: Limits): void {
  server.maxConnections = limits.maxConnections;
  Object.assign(server, {
    maxHeaderSize: limits.maxHeaderBytes, // a constructor option of http.Server; read from the server per connection
    // one more than the limit is kept, so the handler sees the excess and refuses it: node drops
    // headers past maxHeadersCount silently, and a dropped SSE-C header would store plaintext
    maxHeadersCount: limits.maxHeaderCount + 1,
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.idleTimeoutMs,
    // how often node:http checks headersTimeout/requestTimeout (default 30 s, which would let a
    // slowloris head live 30 s past a 20 s limit); read when the server starts listening
    connectionsCheckingInterval: Math.min(1000, limits.headersTimeoutMs),
  });
  server.setTimeout(limits.idleTimeoutMs);
  server.on('timeout', (c: Socket | http2.ServerHttp2Session) => conns.idle(c));
}

/**
 * A connection-level HTTP/2 error that nghttp2 hands back to Node (a zero WINDOW_UPDATE, a flood
 * of invalid frames) makes Node destroy the session with GOAWAY(INTERNAL_ERROR), which tells the
 * client the server broke. RFC 9113 asks for the peer's fault to be named: PROTOCOL_ERROR,
 * FLOW_CONTROL_ERROR, or ENHANCE_YOUR_CALM for abuse. Errors nghttp2 answers itself (DATA on
 * stream 0, a bad SETTINGS length, broken HPACK) already carry their own code.
 */
function goawayWithTheRightCode(session: http2.ServerHttp2Session): void {
  const destroy = session.destroy.bind(session);
  session.destroy = (error?: Error, code?: number) => {
    const e = error as (Error & { code?: string; errno?: number }) | undefined;
    if (code === undefined && e?.code?.startsWith('ERR_HTTP2_')) {
      code = e.code === 'ERR_HTTP2_TOO_MANY_INVALID_FRAMES' || e.errno === NGHTTP2_ERR_FLOODED ? h2c.NGHTTP2_ENHANCE_YOUR_CALM
        : e.errno === NGHTTP2_ERR_FLOW_CONTROL ? h2c.NGHTTP2_FLOW_CONTROL_ERROR
        : h2c.NGHTTP2_PROTOCOL_ERROR;
    }
    return destroy(error, code);
  };
}
/** nghttp2's library error numbers (nghttp2.h), as Node's NghttpError carries them in `errno` */
const NGHTTP2_ERR_FLOW_CONTROL = -524;
const NGHTTP2_ERR_FLOODED = -904;

/** HTTPS on node:http2 with allowHTTP1: h2 and HTTP/1.1 on one port, TLS 1.2 minimum. */
export function createHttpsListener(tls: { cert: string; key: string; minVersion: 'TLSv1.2' | 'TLSv1.3' }, handler: Handler, metrics: Metrics, limits: Limits): Listener {
  const server = http2.createSecureServer({
    cert: tls.cert, key: tls.key, minVersion: tls.minVersion, allowHTTP1: true,
    handshakeTimeout: limits.headersTimeoutMs,
    settings: { initialWindowSize: H2_STREAM_WINDOW, maxConcurrentStreams: limits.h2MaxConcurrentStreams, maxHeaderListSize: limits.maxHeaderBytes },
    // the pseudo-headers count too; up to twice the limit reaches the handler, which answers 400
    // RequestHeaderSectionTooLarge; past that nghttp2 resets the stream (ENHANCE_YOUR_CALM)
    maxHeaderListPairs: 2 * limits.maxHeaderCount + 5,
  });
  const conns = new Connections();
  applyLimits(server, conns, limits);
  server.on('session', (session) => { session.setLocalWindowSize(H2_SESSION_WINDOW); conns.session(session); goawayWithTheRightCode(session); });
  server.on('secureConnection', (socket: TLSSocket) => { conns.socket(socket); track(metrics, socket, socket.alpnProtocol === 'h2' ? 'h2' : 'h1'); });
  server.on('tlsClientError', () => metrics.tlsFailures.inc());
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => conns.clientError(err, socket));
  server.on('request', (req, res) => { conns.request(req, res); handler(req, res); });
  // fires for HTTP/1.1 and HTTP/2 alike: the stages run before the client is told to send the body
  server.on('checkContinue', (req, res) => { conns.request(req, res); handler(req, res, true); });
  // Node's HTTP/2 compatibility layer compares `expect` case-sensitively with '100-continue' and
  // answers 417 to aws-sdk-go's `Expect: 100-Continue` (rclone, Velero, Terraform): expectation
  // values are case-insensitive (RFC 9110 §10.1.1), so take any case as 100-continue here.
  server.on('checkExpectation', (req, res) => {
    conns.request(req, res);
    if (CONTINUE.test(String(req.headers.expect))) handler(req, res, true);
    else { res.statusCode = 417; res.end(); }
  });
  return { server, address: () => server.address() as AddressInfo, close: closer(server, conns) };
}

/** An `Expect` value that asks for 100-continue, in any case (what node:http accepts on HTTP/1.1). */
const CONTINUE = /^\s*100-continue\s*$/i;

/** Plaintext HTTP/1.1 (optional). SSE-C on it is refused by the refuse_plaintext stage. */
export function createPlaintextListener(handler: Handler, metrics: Metrics, limits: Limits): Listener {
  const server = http.createServer();
  const conns = new Connections();
  applyLimits(server, conns, limits);
  server.on('connection', (socket: Socket) => { conns.socket(socket); track(metrics, socket, 'h1-plaintext'); });
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => conns.clientError(err, socket));
  server.on('request', (req, res) => { conns.request(req, res); handler(req, res); });
  server.on('checkContinue', (req, res) => { conns.request(req, res); handler(req, res, true); });
  return { server, address: () => server.address() as AddressInfo, close: closer(server, conns) };
}

/** Wraps a plain http.Server (admin) as a Listener. */
export function wrapServer(server: http.Server): Listener {
  const conns = new Connections();
  server.on('connection', (s: Socket) => conns.socket(s));
  server.on('request', (req, res) => conns.request(req, res));
  return { server, address: () => server.address() as AddressInfo, close: closer(server, conns) };
}

export function listen(l: Listener, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    l.server.once('error', reject);
    l.server.listen(port, host, () => { l.server.off('error', reject); resolve(l.address()); });
  });
}
