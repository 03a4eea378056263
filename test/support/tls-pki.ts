// TLS material made by the openssl CLI, not by seal: a server CA issuing the registry's certificate (for a
// DNS name only, no IP), and a separate client CA issuing the certificate a registry with clientcas wants.

import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openssl } from './openssl-ca.js';

export interface TlsPki {
  dir: string;
  /** The DNS name the server certificate carries (its only SAN). */
  serverName: string;
  /** Files (PEM). */
  serverCa: string;
  serverCert: string;
  serverKey: string;
  clientCa: string;
  clientCert: string;
  clientKey: string;
  /** A client certificate from a CA the registry does not trust. */
  strangerCert: string;
  strangerKey: string;
}

async function selfSignedCa(dir: string, name: string, cn: string): Promise<void> {
  await openssl(
    dir,
    'genpkey',
    '-algorithm',
    'EC',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-out',
    `${name}.key`,
  );
  await openssl(
    dir,
    'req',
    '-x509',
    '-new',
    '-key',
    `${name}.key`,
    '-subj',
    `/CN=${cn}`,
    '-days',
    '2',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
    '-out',
    `${name}.pem`,
  );
}

async function leaf(dir: string, name: string, ca: string, cn: string, ext: string): Promise<void> {
  await openssl(
    dir,
    'genpkey',
    '-algorithm',
    'EC',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-out',
    `${name}.key`,
  );
  await openssl(dir, 'req', '-new', '-key', `${name}.key`, '-subj', `/CN=${cn}`, '-out', `${name}.csr`);
  await writeFile(join(dir, `${name}.ext`), ext);
  await openssl(
    dir,
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    `${ca}.pem`,
    '-CAkey',
    `${ca}.key`,
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    `${name}.ext`,
    '-out',
    `${name}.pem`,
  );
}

export async function makeTlsPki(dir: string, serverName = 'registry.seal.test'): Promise<TlsPki> {
  await selfSignedCa(dir, 'server-ca', 'seal test registry CA');
  await selfSignedCa(dir, 'client-ca', 'seal test client CA');
  await selfSignedCa(dir, 'stranger-ca', 'someone else');
  await leaf(
    dir,
    'server',
    'server-ca',
    serverName,
    `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:${serverName}\n`,
  );
  const clientExt =
    'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n';
  await leaf(dir, 'client', 'client-ca', 'seal test client', clientExt);
  await leaf(dir, 'stranger', 'stranger-ca', 'stranger', clientExt);
  const f = (n: string) => join(dir, n);
  return {
    dir,
    serverName,
    serverCa: f('server-ca.pem'),
    serverCert: f('server.pem'),
    serverKey: f('server.key'),
    clientCa: f('client-ca.pem'),
    clientCert: f('client.pem'),
    clientKey: f('client.key'),
    strangerCert: f('stranger.pem'),
    strangerKey: f('stranger.key'),
  };
}
