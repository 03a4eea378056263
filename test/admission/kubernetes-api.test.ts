// Reading namespace labels and imagePullSecrets from a Kubernetes API server: a real HTTPS server on
// 127.0.0.1 answering like the apiserver (bearer token, CA-verified TLS, 404 for unknown objects).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Fastify, { type FastifyInstance } from 'fastify';
import { kubernetesNamespaces } from '../../src/admission/namespaces.js';
import {
  credentialsFromDockerConfig,
  credentialsFromSecret,
  kubernetesPullSecrets,
} from '../../src/admission/pullsecrets.js';
import { createSelfSignedTls } from '../../src/admission/tls.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const dockerconfig = {
  auths: {
    'registry.acme.io': { auth: b64('robot:s3cret') },
    'https://index.docker.io/v1/': { username: 'u', password: 'p' },
  },
};

describe('Kubernetes API lookups', () => {
  let api: FastifyInstance;
  let server: string;
  let ca: string;
  const seen: string[] = [];

  beforeAll(async () => {
    const tls = await createSelfSignedTls(['127.0.0.1']);
    ca = tls.caPem;
    api = Fastify({ https: { cert: tls.certPem, key: tls.keyPem } });
    api.addHook('onRequest', async (req, reply) => {
      seen.push(req.url);
      if (req.headers.authorization !== 'Bearer sa-token')
        reply.code(401).send({ kind: 'Status', code: 401 });
    });
    api.get('/api/v1/namespaces/prod', async () => ({
      kind: 'Namespace',
      metadata: { name: 'prod', labels: { ring: 'prod' } },
    }));
    api.get('/api/v1/namespaces/prod/serviceaccounts/web', async () => ({
      kind: 'ServiceAccount',
      metadata: { name: 'web' },
      imagePullSecrets: [{ name: 'sa-cred' }],
    }));
    api.get('/api/v1/namespaces/prod/secrets/regcred', async () => ({
      kind: 'Secret',
      type: 'kubernetes.io/dockerconfigjson',
      data: { '.dockerconfigjson': b64(JSON.stringify(dockerconfig)) },
    }));
    api.get('/api/v1/namespaces/prod/secrets/broken', async (_req, reply) =>
      reply.code(500).send({ code: 500 }),
    );
    api.get('/api/v1/namespaces/prod/secrets/sa-cred', async () => ({
      kind: 'Secret',
      type: 'kubernetes.io/dockercfg',
      data: { '.dockercfg': b64(JSON.stringify({ 'ghcr.io': { auth: b64('bot:tok') } })) },
    }));
    await api.listen({ host: '127.0.0.1', port: 0 });
    const addr = api.server.address() as { port: number };
    server = `https://127.0.0.1:${addr.port}`;
  });
  afterAll(async () => {
    await api.close();
  });

  it('reads namespace labels with the service account token and caches them', async () => {
    const lookup = kubernetesNamespaces({ server, token: 'sa-token', ca });
    expect(await lookup('prod', AbortSignal.timeout(2000))).toEqual({
      name: 'prod',
      labels: { ring: 'prod' },
    });
    await lookup('prod', AbortSignal.timeout(2000));
    expect(seen.filter((u) => u === '/api/v1/namespaces/prod')).toHaveLength(1);
    await expect(
      kubernetesNamespaces({ server, token: 'wrong', ca })('prod', AbortSignal.timeout(2000)),
    ).rejects.toMatchObject({ code: 'E_NETWORK' });
  });

  it('resolves imagePullSecrets and the service account secrets to registry credentials', async () => {
    const lookup = kubernetesPullSecrets({ server, token: 'sa-token', ca });
    const creds = await lookup(
      { namespace: 'prod', names: ['regcred', 'missing'], serviceAccountName: 'web' },
      AbortSignal.timeout(2000),
    );
    expect(creds).toEqual(
      expect.arrayContaining([
        { registry: 'registry.acme.io', username: 'robot', password: 's3cret' },
        { registry: 'index.docker.io', username: 'u', password: 'p' },
        { registry: 'ghcr.io', username: 'bot', password: 'tok' },
      ]),
    );
  });

  it('reports an API server that errs or cannot be reached as E_NETWORK (verification unavailable)', async () => {
    const lookup = kubernetesPullSecrets({ server, token: 'sa-token', ca });
    await expect(
      lookup({ namespace: 'prod', names: ['broken'] }, AbortSignal.timeout(2000)),
    ).rejects.toMatchObject({
      code: 'E_NETWORK',
      message: expect.stringContaining('HTTP 500'),
    });
    const gone = 'https://127.0.0.1:1';
    await expect(
      kubernetesNamespaces({ server: gone, token: 'sa-token', ca })('prod', AbortSignal.timeout(2000)),
    ).rejects.toMatchObject({ code: 'E_NETWORK' });
    await expect(
      kubernetesPullSecrets({ server: gone, token: 'sa-token', ca })(
        { namespace: 'prod', names: ['x'] },
        AbortSignal.timeout(2000),
      ),
    ).rejects.toMatchObject({ code: 'E_NETWORK' });
  });

  it('parses docker configs and ignores secrets of other types', () => {
    expect(credentialsFromDockerConfig({ auths: { 'r.io': { identitytoken: 't' } } })).toEqual([
      { registry: 'r.io', identityToken: 't' },
    ]);
    expect(credentialsFromSecret({ type: 'Opaque', data: { password: b64('x') } })).toEqual([]);
  });
});
