// A small HTTPS client for the webhook tests: POST an AdmissionReview / GET a path, trusting one CA.

import { Agent, request } from 'node:https';

export interface HttpsResult {
  status: number;
  body: string;
}

export function httpsClient(baseUrl: string, caPem: string, maxSockets = 64) {
  const agent = new Agent({ keepAlive: true, ca: caPem, maxSockets });
  const send = (method: string, path: string, body?: unknown): Promise<HttpsResult> =>
    new Promise((resolve, reject) => {
      const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const req = request(
        new URL(path, baseUrl),
        {
          method,
          agent,
          headers: data ? { 'content-type': 'application/json', 'content-length': data.length } : {},
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
          );
        },
      );
      req.on('error', reject);
      if (data) req.write(data);
      req.end();
    });
  return {
    post: (path: string, body: unknown) => send('POST', path, body),
    get: (path: string) => send('GET', path),
    close: () => agent.destroy(),
  };
}
