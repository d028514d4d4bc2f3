import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Metrics } from '../metrics/registry.js';
import type { Handler } from '../pipeline/run-pipeline.js';

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
  private draining = false;

  socket(s: Socket): void {
    this.sockets.set(s, 0);
    s.once('close', () => this.sockets.delete(s));
  }
  session(s: http2.ServerHttp2Session): void {
    this.sessions.add(s);
    s.once('close', () => this.sessions.delete(s));
    if (this.draining) s.close();
  }
  /** counts an HTTP/1.1 request on its socket (h2 streams are handled by session.close) */
  request(req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse): void {
    if (req.httpVersionMajor === 2) return;
    const s = req.socket as Socket;
    this.sockets.set(s, (this.sockets.get(s) ?? 0) + 1);
    res.once('close', () => {
      const n = (this.sockets.get(s) ?? 1) - 1;
      this.sockets.set(s, n);
      if (this.draining && n === 0) s.destroySoon();
    });
  }
  drain(): void {
    this.draining = true;
    for (const s of this.sessions) s.close();
    for (const [s, n] of this.sockets) if (n === 0 && !this.sessionSockets().has(s)) s.destroySoon();
  }
  destroyAll(): void {
    for (const s of this.sessions) s.destroy();
    for (const s of this.sockets.keys()) s.destroy();
  }
  private sessionSockets(): Set<unknown> {
    return new Set([...this.sessions].map((x) => x.socket));
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

/** HTTPS on node:http2 with allowHTTP1: h2 and HTTP/1.1 on one port, TLS 1.2 minimum. */
export function createHttpsListener(tls: { cert: string; key: string; minVersion: 'TLSv1.2' | 'TLSv1.3' }, handler: Handler, metrics: Metrics): Listener {
  const server = http2.createSecureServer({
    cert: tls.cert, key: tls.key, minVersion: tls.minVersion, allowHTTP1: true,
    settings: { initialWindowSize: H2_STREAM_WINDOW },
  });
  const conns = new Connections();
  server.on('session', (session) => { session.setLocalWindowSize(H2_SESSION_WINDOW); conns.session(session); });
  server.on('secureConnection', (socket: TLSSocket) => { conns.socket(socket); track(metrics, socket, socket.alpnProtocol === 'h2' ? 'h2' : 'h1'); });
  server.on('tlsClientError', () => metrics.tlsFailures.inc());
  server.on('request', (req, res) => { conns.request(req, res); handler(req, res); });
  // fires for HTTP/1.1 and HTTP/2 alike: the stages run before the client is told to send the body
  server.on('checkContinue', (req, res) => { conns.request(req, res); handler(req, res, true); });
  return { server, address: () => server.address() as AddressInfo, close: closer(server, conns) };
}

/** Plaintext HTTP/1.1 (optional). SSE-C on it is refused by the refuse_plaintext stage. */
export function createPlaintextListener(handler: Handler, metrics: Metrics): Listener {
  const server = http.createServer();
  const conns = new Connections();
  server.on('connection', (socket: Socket) => { conns.socket(socket); track(metrics, socket, 'h1-plaintext'); });
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
