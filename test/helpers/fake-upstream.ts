// A recording stand-in for an S3 upstream that is not RGW (AWS, MinIO: none runs here), for the
// tests of what the gateway sends where: it answers CopyObject with a CopyObjectResult and anything
// else with an empty ListAllMyBucketsResult, with the given headers (e.g. `Server: AmazonS3`).
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeUpstream {
  seen: { method: string; url: string; headers: http.IncomingHttpHeaders }[];
  url: string;
  close(): Promise<void>;
}

export async function fakeS3Upstream(headers: Record<string, string>): Promise<FakeUpstream> {
  const seen: FakeUpstream['seen'] = [];
  const server = http.createServer((req, res) => {
    seen.push({ method: req.method!, url: req.url!, headers: req.headers });
    req.resume();
    req.on('end', () => {
      const body = req.method === 'PUT' && req.headers['x-amz-copy-source']
        ? '<CopyObjectResult><LastModified>2026-01-01T00:00:00.000Z</LastModified><ETag>"e"</ETag></CopyObjectResult>'
        : '<ListAllMyBucketsResult/>';
      res.writeHead(200, { ...headers, 'content-type': 'application/xml' }).end(body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { seen, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}
