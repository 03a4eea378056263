// Registry credentials a policy names by Secret, against the real distribution registry behind htpasswd:
// Kyverno verifyImages[].imageRegistryCredentials.secrets (the image and its signatures in a private
// registry) and policy-controller source[].signaturePullSecrets (a public image whose signatures live in a
// private registry). Decided by `seal policy test --context` (the Secrets from files) and by the admission
// controller reading the Secrets from a Kubernetes API stand-in (HTTPS on 127.0.0.1, bearer token, CA).
// Without the Secret, or with wrong credentials, the image is not admitted, and the reason names the field
// and the Secret.

import { generateKeyPairSync, type KeyObject, randomBytes, sign } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdmissionController } from '../../src/admission/controller.js';
import { staticNamespaces } from '../../src/admission/namespaces.js';
import { kubernetesPullSecrets, kubernetesSecrets } from '../../src/admission/pullsecrets.js';
import { createSelfSignedTls } from '../../src/admission/tls.js';
import { storeVerifier } from '../../src/admission/verifier.js';
import { memoryIO } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { buildSimpleSigningPayload } from '../../src/formats/simplesigning.js';
import { anonymousCredentials, staticCredentials } from '../../src/oci/auth.js';
import { parseReference, repositoryName } from '../../src/oci/ref.js';
import { RegistryStore } from '../../src/oci/registry.js';
import { loadPolicyTexts } from '../../src/policy/load.js';
import { attachSignature } from '../../src/sign/attach-files.js';
import { type PushedImage, pushRandomImage } from '../oci/store-suite.js';
import { describeWithRegistry, type RunningRegistry, startRegistry } from '../support/registry.js';

const USER = 'alice';
const PASSWORD = 'wonderland';
const b64 = (s: string) => Buffer.from(s).toString('base64');
const indent = (text: string, n: number) =>
  text
    .trim()
    .split('\n')
    .map((l) => `${' '.repeat(n)}${l}`)
    .join('\n');
const pemOf = (k: KeyObject) => k.export({ type: 'spki', format: 'pem' }).toString();

/** A kubernetes.io/dockerconfigjson Secret object for `host`. */
function registrySecret(namespace: string, name: string, host: string, user: string, password: string) {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace },
    type: 'kubernetes.io/dockerconfigjson',
    data: {
      '.dockerconfigjson': b64(JSON.stringify({ auths: { [host]: { auth: b64(`${user}:${password}`) } } })),
    },
  };
}

describeWithRegistry(
  'policy Secrets as registry credentials (htpasswd registry)',
  () => {
    let dir: string;
    let priv: RunningRegistry;
    let pub: RunningRegistry;
    let privStore: RegistryStore;
    const pubStore = new RegistryStore({ credentials: anonymousCredentials });
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'seal-policy-creds-'));
      [priv, pub] = await Promise.all([
        startRegistry({ auth: 'htpasswd', users: { [USER]: PASSWORD } }),
        startRegistry(),
      ]);
      privStore = new RegistryStore({
        credentials: staticCredentials({ [priv.host]: { username: USER, password: PASSWORD } }),
      });
    }, 120_000);
    afterAll(async () => {
      await Promise.all([priv?.stop(), pub?.stop()]);
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    /** seal in-process with an empty docker config: no credentials but those the policies name. */
    async function seal(args: string[], env: Record<string, string> = {}) {
      const io = memoryIO({ COSIGN_PASSWORD: '', DOCKER_CONFIG: join(dir, 'no-docker-config'), ...env });
      const code = await main(args, io);
      return { code, out: io.out, err: io.err };
    }

    async function image(
      store: RegistryStore,
      host: string,
      name: string,
    ): Promise<{ ref: string; pushed: PushedImage }> {
      const ref = `${host}/${name}${randomBytes(3).toString('hex')}/app:v1`;
      return { ref, pushed: await pushRandomImage(store, parseReference(ref)) };
    }

    /** A simple-signing signature by `ec`, attached beside the image or in `sigRepo` (through `store`). */
    async function signInto(
      img: { ref: string; pushed: PushedImage },
      store: RegistryStore,
      sigRepo?: string,
    ): Promise<void> {
      const ref = parseReference(img.ref);
      const payload = buildSimpleSigningPayload({
        dockerReference: repositoryName(ref),
        digest: img.pushed.digest,
      });
      const signature = sign('sha256', payload, { key: ec.privateKey, dsaEncoding: 'der' });
      const target = sigRepo ? parseReference(sigRepo, { defaultTag: false }) : ref;
      await attachSignature(
        { store, ref: target, subject: img.pushed.descriptor, tagPrefix: '' },
        { payload, signatureBase64: signature.toString('base64') },
      );
    }

    function kyvernoPolicy(glob: string, secrets: string[]): string {
      return `apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata: {name: private-registry}
spec:
  validationFailureAction: Enforce
  rules:
  - name: signed
    match: {any: [{resources: {kinds: [Pod]}}]}
    verifyImages:
    - imageReferences: ["${glob}"]
${secrets.length > 0 ? `      imageRegistryCredentials:\n        secrets: [${secrets.join(', ')}]\n` : ''}      attestors:
      - entries:
        - keys:
            publicKeys: |
${indent(pemOf(ec.publicKey), 14)}
            rekor: {ignoreTlog: true}
            ctlog: {ignoreSCT: true}
`;
    }

    function cip(glob: string, sigRepo: string, pullSecrets: string[]): string {
      return `apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: private-signatures}
spec:
  images: [{glob: "${glob}"}]
  authorities:
  - key:
      data: |
${indent(pemOf(ec.publicKey), 8)}
    source:
    - oci: ${sigRepo}
${pullSecrets.length > 0 ? `      signaturePullSecrets: [${pullSecrets.map((n) => `{name: ${n}}`).join(', ')}]\n` : ''}`;
    }

    type Outcome = {
      ok: boolean;
      unavailable: boolean;
      code?: string;
      failedCheck?: string;
      message: string;
    };
    /** `seal policy test` on a Pod in namespace demo, with the Secrets given as --context objects. */
    async function decide(
      policy: string,
      imageRef: string,
      secrets: unknown[],
      env: Record<string, string> = {},
    ): Promise<{ result: string; reason?: string; outcomes: Outcome[] }> {
      const d = join(dir, randomBytes(4).toString('hex'));
      await mkdir(d);
      await writeFile(join(d, 'policy.yaml'), policy);
      await writeFile(
        join(d, 'pod.yaml'),
        `apiVersion: v1\nkind: Pod\nmetadata: {name: app, namespace: demo}\nspec:\n  containers: [{name: app, image: "${imageRef}"}]\n`,
      );
      await writeFile(join(d, 'labels.yaml'), 'demo: {policy.sigstore.dev/include: "true"}\n');
      const context = secrets.map((s) => JSON.stringify(s)).join('\n---\n');
      await writeFile(
        join(d, 'context.yaml'),
        context || 'kind: ConfigMap\napiVersion: v1\nmetadata: {name: none}\n',
      );
      const r = await seal(
        [
          'policy',
          'test',
          '-p',
          join(d, 'policy.yaml'),
          '--context',
          join(d, 'context.yaml'),
          '--namespace-labels',
          join(d, 'labels.yaml'),
          '-o',
          'json',
          join(d, 'pod.yaml'),
        ],
        env,
      );
      if (r.out === '') return { result: `error ${r.code}: ${r.err}`, outcomes: [] };
      const out = JSON.parse(r.out) as { result: string; reason?: string; outcomes: Outcome[] }[];
      expect(out, r.err).toHaveLength(1);
      expect(r.code).toBe(out[0]!.result === 'deny' ? 16 : 0);
      return out[0]!;
    }

    describe('Kyverno imageRegistryCredentials.secrets', () => {
      let img: { ref: string; pushed: PushedImage };
      let glob: string;
      beforeAll(async () => {
        img = await image(privStore, priv.host, 'kyv');
        await signInto(img, privStore);
        glob = `${img.ref.replace(/:v1$/, '')}*`;
      });

      it('admits the private image only with the Secret (in Kyverno’s namespace) given', async () => {
        const good = registrySecret('kyverno', 'regcred', priv.host, USER, PASSWORD);
        const ok = await decide(kyvernoPolicy(glob, ['regcred']), img.ref, [good]);
        expect(ok.result, JSON.stringify(ok)).toBe('allow');

        // The same policy without imageRegistryCredentials: the registry refuses the anonymous read.
        const anonymous = await decide(kyvernoPolicy(glob, []), img.ref, [good]);
        expect(anonymous.result).toBe('deny');
        expect(JSON.stringify(anonymous)).toMatch(/E_UNAUTHORIZED|refused|401/);
      }, 60_000);

      it('fails clearly, naming the field and the Secret, when the Secret is not there', async () => {
        const missing = await decide(kyvernoPolicy(glob, ['regcred']), img.ref, []);
        expect(missing.result).toBe('deny');
        const o = missing.outcomes[0]!;
        expect(o).toMatchObject({ ok: false, unavailable: true, code: 'E_NOT_FOUND' });
        expect(o.message).toContain(
          'spec.rules[0].verifyImages[0].imageRegistryCredentials.secrets: Secret kyverno/regcred does not exist',
        );
        // A Secret of that name in another namespace is not Kyverno's.
        const elsewhere = await decide(kyvernoPolicy(glob, ['regcred']), img.ref, [
          registrySecret('demo', 'regcred', priv.host, USER, PASSWORD),
        ]);
        expect(elsewhere.result).toBe('deny');
        expect(elsewhere.outcomes[0]!.message).toContain('Secret kyverno/regcred does not exist');
      }, 60_000);

      it('is denied with wrong credentials (the registry refuses them), not retried anonymously', async () => {
        const wrong = await decide(kyvernoPolicy(glob, ['regcred']), img.ref, [
          registrySecret('kyverno', 'regcred', priv.host, USER, 'not-the-password'),
        ]);
        expect(wrong.result).toBe('deny');
        expect(wrong.outcomes[0]!.unavailable).toBe(false);
        expect(JSON.stringify(wrong)).toMatch(/E_UNAUTHORIZED|refused the credentials/);
      }, 60_000);

      it('refuses malformed Secret data by field', async () => {
        const opaque = { ...registrySecret('kyverno', 'regcred', priv.host, USER, PASSWORD), type: 'Opaque' };
        const a = await decide(kyvernoPolicy(glob, ['regcred']), img.ref, [opaque]);
        expect(a.result).toBe('deny');
        expect(a.outcomes[0]!.message).toContain(
          'Secret kyverno/regcred.type: "Opaque" is not a registry Secret (kubernetes.io/dockerconfigjson or kubernetes.io/dockercfg)',
        );
        const noAuth = registrySecret('kyverno', 'regcred', priv.host, USER, PASSWORD);
        noAuth.data['.dockerconfigjson'] = b64(JSON.stringify({ auths: { [priv.host]: { email: 'x@y' } } }));
        const b = await decide(kyvernoPolicy(glob, ['regcred']), img.ref, [noAuth]);
        expect(b.result).toBe('deny');
        expect(b.outcomes[0]!.message).toContain(
          `.data[".dockerconfigjson"].auths["${priv.host}"]: has neither auth, username and password, nor identitytoken`,
        );
      }, 60_000);

      it('reads names without a namespace in SEAL_KYVERNO_NAMESPACE, and namespace/name where it says', async () => {
        const inSecurity = registrySecret('security', 'regcred', priv.host, USER, PASSWORD);
        const env = await decide(kyvernoPolicy(glob, ['regcred']), img.ref, [inSecurity], {
          SEAL_KYVERNO_NAMESPACE: 'security',
        });
        expect(env.result, JSON.stringify(env)).toBe('allow');
        const named = await decide(kyvernoPolicy(glob, ['security/regcred']), img.ref, [inSecurity]);
        expect(named.result, JSON.stringify(named)).toBe('allow');
      }, 60_000);
    });

    describe('policy-controller source[].signaturePullSecrets', () => {
      let img: { ref: string; pushed: PushedImage };
      let glob: string;
      let sigRepo: string;
      beforeAll(async () => {
        // A public image whose signatures only a private registry holds.
        img = await image(pubStore, pub.host, 'cip');
        sigRepo = `${priv.host}/sigs${randomBytes(3).toString('hex')}/app`;
        await signInto(img, privStore, sigRepo);
        glob = `${img.ref.replace(/:v1$/, '')}*`;
      });

      it('reads the signatures with the Secret in the admitted object’s namespace, and only with it', async () => {
        const good = registrySecret('demo', 'sigcred', priv.host, USER, PASSWORD);
        const ok = await decide(cip(glob, sigRepo, ['sigcred']), img.ref, [good]);
        expect(ok.result, JSON.stringify(ok)).toBe('allow');
        // No signaturePullSecrets: the private source cannot be read anonymously.
        const none = await decide(cip(glob, sigRepo, []), img.ref, [good]);
        expect(none.result).toBe('deny');
        // The Secret in another namespace (policy-controller reads the Pod's): missing, named.
        const other = await decide(cip(glob, sigRepo, ['sigcred']), img.ref, [
          registrySecret('cosign-system', 'sigcred', priv.host, USER, PASSWORD),
        ]);
        expect(other.result).toBe('deny');
        expect(other.outcomes[0]).toMatchObject({ unavailable: true, code: 'E_NOT_FOUND' });
        expect(other.outcomes[0]!.message).toContain(
          'spec.authorities[0].source[0].signaturePullSecrets: Secret demo/sigcred does not exist',
        );
        // Wrong credentials: the registry refuses them.
        const wrong = await decide(cip(glob, sigRepo, ['sigcred']), img.ref, [
          registrySecret('demo', 'sigcred', priv.host, USER, 'nope'),
        ]);
        expect(wrong.result).toBe('deny');
        expect(JSON.stringify(wrong)).toMatch(/E_UNAUTHORIZED|refused the credentials/);
      }, 60_000);
    });

    describe('through the admission controller, the Secrets read from the Kubernetes API', () => {
      let api: FastifyInstance;
      let server: string;
      let ca: string;
      const seen: string[] = [];
      const objects = new Map<string, unknown>();
      const forbidden = new Set<string>();

      beforeAll(async () => {
        const tls = await createSelfSignedTls(['127.0.0.1']);
        ca = tls.caPem;
        api = Fastify({ https: { cert: tls.certPem, key: tls.keyPem } });
        api.addHook('onRequest', async (req, reply) => {
          seen.push(req.url);
          if (req.headers.authorization !== 'Bearer sa-token')
            return reply.code(401).send({ kind: 'Status', code: 401 });
        });
        api.get('/api/v1/namespaces/:ns/secrets/:name', async (req, reply) => {
          const { ns, name } = req.params as { ns: string; name: string };
          if (forbidden.has(`${ns}/${name}`)) return reply.code(403).send({ kind: 'Status', code: 403 });
          const o = objects.get(`${ns}/${name}`);
          if (!o) return reply.code(404).send({ kind: 'Status', code: 404, reason: 'NotFound' });
          return o;
        });
        await api.listen({ host: '127.0.0.1', port: 0 });
        server = `https://127.0.0.1:${(api.server.address() as { port: number }).port}`;
      });
      afterAll(async () => {
        await api?.close();
      });

      it('admits with the Secrets from the API, and per namespace: a result is not carried to another', async () => {
        const kyv = await image(privStore, priv.host, 'webhook-kyv');
        await signInto(kyv, privStore);
        const pubImg = await image(pubStore, pub.host, 'webhook-cip');
        const sigRepo = `${priv.host}/wsigs${randomBytes(3).toString('hex')}/app`;
        await signInto(pubImg, privStore, sigRepo);
        objects.set('kyverno/regcred', registrySecret('kyverno', 'regcred', priv.host, USER, PASSWORD));
        objects.set('demo/sigcred', registrySecret('demo', 'sigcred', priv.host, USER, PASSWORD));
        forbidden.add('locked/sigcred');
        const policies = loadPolicyTexts([
          { name: 'kyverno.yaml', text: kyvernoPolicy(`${kyv.ref.replace(/:v1$/, '')}*`, ['regcred']) },
          { name: 'cip.yaml', text: cip(`${pubImg.ref.replace(/:v1$/, '')}*`, sigRepo, ['sigcred']) },
        ]);
        const include = { 'policy.sigstore.dev/include': 'true' };
        const controller = new AdmissionController({
          policies,
          verifier: storeVerifier({ registry: { credentials: anonymousCredentials } }),
          namespaces: staticNamespaces({ demo: include, staging: include, locked: include }),
          policySecrets: kubernetesSecrets({ server, token: 'sa-token', ca }),
        });
        const pod = (uid: string, namespace: string, image: string) => ({
          apiVersion: 'admission.k8s.io/v1',
          kind: 'AdmissionReview',
          request: {
            uid,
            kind: { group: '', version: 'v1', kind: 'Pod' },
            resource: { group: '', version: 'v1', resource: 'pods' },
            namespace,
            operation: 'CREATE',
            userInfo: { username: 'dev' },
            object: {
              apiVersion: 'v1',
              kind: 'Pod',
              metadata: { name: 'app', namespace },
              spec: { containers: [{ name: 'app', image }] },
            },
          },
        });
        const review = async (uid: string, namespace: string, image: string) => {
          const r = await controller.review('validate', pod(uid, namespace, image));
          const res = (r.review as { response: { allowed: boolean; status?: { message?: string } } })
            .response;
          return { allowed: res.allowed, message: res.status?.message ?? '', decisions: r.decisions };
        };

        const k = await review('k1', 'demo', kyv.ref);
        expect(k.allowed, k.message).toBe(true);
        expect(seen).toContain('/api/v1/namespaces/kyverno/secrets/regcred');

        const c = await review('c1', 'demo', pubImg.ref);
        expect(c.allowed, c.message).toBe(true);
        expect(seen).toContain('/api/v1/namespaces/demo/secrets/sigcred');

        // Same image, same policy, another namespace without the Secret: not the demo result from the cache.
        const s = await review('c2', 'staging', pubImg.ref);
        expect(s.allowed).toBe(false);
        expect(s.message).toContain('Secret staging/sigcred does not exist');
        expect(s.decisions[0]!.outcomes[0]!.cached).toBe(false);
        // A second review in demo is the cached allow.
        const again = await review('c3', 'demo', pubImg.ref);
        expect(again.allowed).toBe(true);
        expect(again.decisions[0]!.outcomes[0]!.cached).toBe(true);

        // A Secret the webhook may not read: unavailable, naming it and what to grant.
        const locked = await review('c4', 'locked', pubImg.ref);
        expect(locked.allowed).toBe(false);
        expect(locked.message).toMatch(/Secret locked\/sigcred could not be read: .*HTTP 403/);

        // With the workload's imagePullSecrets for the same registry, the policy's Secret comes first (as in
        // Kyverno's keychain): the workload's wrong password does not spoil it, and the policy's wrong one is
        // not rescued by the workload's right one.
        const withPodSecrets = (policyPassword: string, podPassword: string) => {
          objects.set(
            'kyverno/regcred',
            registrySecret('kyverno', 'regcred', priv.host, USER, policyPassword),
          );
          objects.set('demo/podcred', registrySecret('demo', 'podcred', priv.host, USER, podPassword));
          return new AdmissionController({
            policies,
            verifier: storeVerifier({ registry: { credentials: anonymousCredentials } }),
            pullSecrets: kubernetesPullSecrets({ server, token: 'sa-token', ca }),
            policySecrets: kubernetesSecrets({ server, token: 'sa-token', ca }),
          });
        };
        const podWithSecrets = (uid: string) => {
          const p = pod(uid, 'demo', kyv.ref);
          (p.request.object.spec as Record<string, unknown>).imagePullSecrets = [{ name: 'podcred' }];
          return p;
        };
        const allowedOf = async (c: AdmissionController, uid: string) => {
          const r = await c.review('validate', podWithSecrets(uid));
          return (r.review as { response: { allowed: boolean; status?: { message?: string } } }).response;
        };
        const policyWins = await allowedOf(withPodSecrets(PASSWORD, 'wrong'), 'p1');
        expect(policyWins.allowed, policyWins.status?.message).toBe(true);
        const policyWrong = await allowedOf(withPodSecrets('wrong', PASSWORD), 'p2');
        expect(policyWrong.allowed).toBe(false);
        expect(policyWrong.status?.message).toMatch(/refused|401/);
        objects.set('kyverno/regcred', registrySecret('kyverno', 'regcred', priv.host, USER, PASSWORD));

        // The Kyverno Secret removed: the next uncached verification says so (the reader's cache expires;
        // a fresh controller has none).
        objects.delete('kyverno/regcred');
        const fresh = new AdmissionController({
          policies,
          verifier: storeVerifier({ registry: { credentials: anonymousCredentials } }),
          policySecrets: kubernetesSecrets({ server, token: 'sa-token', ca }),
        });
        const gone = await fresh.review('validate', pod('k2', 'demo', kyv.ref));
        const res = (gone.review as { response: { allowed: boolean; status?: { message?: string } } })
          .response;
        expect(res.allowed).toBe(false);
        expect(res.status?.message).toContain('Secret kyverno/regcred does not exist');
      }, 90_000);
    });
  },
  'htpasswd',
);
