// A private PKI made by the openssl CLI, not by seal: root → intermediate → code-signing leaf with an email
// SAN, and a timestamp authority. Under CI=true a missing openssl fails the suite instead of skipping it.

import { execFile, spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, it } from 'vitest';

const run = promisify(execFile);

export async function openssl(cwd: string, ...args: string[]): Promise<string> {
  const { stdout } = await run('openssl', args, { cwd, maxBuffer: 16 << 20 });
  return stdout;
}

function opensslMissing(): string | undefined {
  const r = spawnSync('openssl', ['version'], { encoding: 'utf8' });
  return r.status === 0 ? undefined : `openssl CLI not runnable: ${r.error?.message ?? r.stderr}`;
}

/** describe() that needs the openssl CLI: skipped when absent, failing under CI=true. */
export function describeWithOpenssl(name: string, body: () => void): void {
  const reason = opensslMissing();
  if (!reason) {
    describe(name, body);
    return;
  }
  if (process.env.CI === 'true') {
    describe(name, () => {
      it('needs the openssl CLI', () => {
        throw new Error(`CI=true and ${reason}`);
      });
    });
    return;
  }
  console.warn(`skipping "${name}": ${reason}`);
  describe.skip(name, body);
}

export interface OpensslCA {
  dir: string;
  rootPem: string;
  intermediatePem: string;
  /** intermediate then root: cosign's --certificate-chain order. */
  chainPem: string;
  leafPem: string;
  leafKey: string;
  /** A leaf of the same CA without the codeSigning EKU. */
  noEkuLeafPem: string;
  noEkuLeafKey: string;
  /** TSA signing certificate then root (--timestamp-certificate-chain order), its key, and ts config. */
  tsaChainPem: string;
  tsaKey: string;
  tsaPem: string;
  tsaConfig: string;
}

const ec = (cwd: string, out: string) =>
  openssl(cwd, 'genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', out);

export async function issue(
  cwd: string,
  name: string,
  subject: string,
  issuer: { pem: string; key: string },
  extensions: string,
): Promise<void> {
  await ec(cwd, `${name}.key`);
  await openssl(cwd, 'req', '-new', '-key', `${name}.key`, '-subj', subject, '-out', `${name}.csr`);
  await writeFile(join(cwd, `${name}.ext`), extensions);
  await openssl(
    cwd,
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    issuer.pem,
    '-CAkey',
    issuer.key,
    '-CAcreateserial',
    '-days',
    '30',
    '-sha256',
    '-extfile',
    `${name}.ext`,
    '-out',
    `${name}.pem`,
  );
}

/** Build the CA in `dir` (root, intermediate, leaf for `email`, a leaf without EKU, a TSA). */
export async function makeOpensslCA(dir: string, email: string, label = 'Test'): Promise<OpensslCA> {
  await ec(dir, 'root.key');
  await openssl(
    dir,
    'req',
    '-x509',
    '-new',
    '-key',
    'root.key',
    '-subj',
    `/CN=${label} Root CA`,
    '-days',
    '365',
    '-sha256',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
    '-out',
    'root.pem',
  );
  const root = { pem: 'root.pem', key: 'root.key' };
  await issue(
    dir,
    'intermediate',
    `/CN=${label} Intermediate CA`,
    root,
    'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n',
  );
  const intermediate = { pem: 'intermediate.pem', key: 'intermediate.key' };
  await issue(
    dir,
    'leaf',
    '/CN=signer',
    intermediate,
    `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=codeSigning\nsubjectAltName=email:${email}\n`,
  );
  await issue(
    dir,
    'noeku',
    '/CN=not-a-code-signer',
    intermediate,
    `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nsubjectAltName=email:${email}\n`,
  );
  await issue(
    dir,
    'tsa',
    `/CN=${label} TSA`,
    root,
    'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=critical,timeStamping\n',
  );
  const { readFile } = await import('node:fs/promises');
  const read = (f: string) => readFile(join(dir, f), 'utf8');
  const [rootPem, intermediatePem, leafPem, noEkuLeafPem, tsaPem] = await Promise.all(
    ['root.pem', 'intermediate.pem', 'leaf.pem', 'noeku.pem', 'tsa.pem'].map(read),
  );
  await writeFile(join(dir, 'chain.pem'), intermediatePem + rootPem);
  await writeFile(join(dir, 'tsa-chain.pem'), tsaPem! + rootPem);
  await writeFile(
    join(dir, 'ts.cnf'),
    [
      '[ tsa ]',
      'default_tsa = tsa_config',
      '[ tsa_config ]',
      `dir = ${dir}`,
      'serial = $dir/tsaserial',
      'signer_cert = $dir/tsa.pem',
      'signer_key = $dir/tsa.key',
      'signer_digest = sha256',
      'default_policy = 1.2.3.4.1',
      'digests = sha256',
      'accuracy = secs:1',
      'ess_cert_id_alg = sha256',
      '',
    ].join('\n'),
  );
  await writeFile(join(dir, 'tsaserial'), '01\n');
  return {
    dir,
    rootPem: rootPem!,
    intermediatePem: intermediatePem!,
    chainPem: intermediatePem! + rootPem!,
    leafPem: leafPem!,
    leafKey: join(dir, 'leaf.key'),
    noEkuLeafPem: noEkuLeafPem!,
    noEkuLeafKey: join(dir, 'noeku.key'),
    tsaChainPem: tsaPem! + rootPem!,
    tsaKey: join(dir, 'tsa.key'),
    tsaPem: tsaPem!,
    tsaConfig: join(dir, 'ts.cnf'),
  };
}

/** `openssl dgst -sha256 -sign KEY -out OUT FILE`: a raw DER ECDSA signature, as a private signer makes it. */
export async function opensslSign(cwd: string, key: string, file: string, out: string): Promise<void> {
  await openssl(cwd, 'dgst', '-sha256', '-sign', key, '-out', out, file);
}

/** An RFC 3161 TimeStampResp over the bytes of `file`, from the openssl TSA of `ca`. */
export async function opensslTimestamp(ca: OpensslCA, file: string, out: string): Promise<void> {
  await openssl(ca.dir, 'ts', '-query', '-data', file, '-sha256', '-cert', '-out', `${out}.tsq`);
  await openssl(ca.dir, 'ts', '-reply', '-config', ca.tsaConfig, '-queryfile', `${out}.tsq`, '-out', out);
}
