// Trusted root loading: the embedded public-good root, validation errors naming the field, closed
// validity intervals.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isSealError } from '../../src/errors.js';
import {
  inRange,
  loadTrustedRoot,
  loadTrustedRootFile,
  publicGoodTrustedRoot,
} from '../../src/verify/trust.js';

function publicGoodJson(): Record<string, unknown> {
  // The same seed publicGoodTrustedRoot reads; tests mutate copies of it.
  const seeds = JSON.parse(
    readFileSync(createRequire(import.meta.url).resolve('@sigstore/tuf/seeds.json'), 'utf8'),
  ) as Record<string, { targets: Record<string, string> }>;
  return JSON.parse(
    Buffer.from(seeds['https://tuf-repo-cdn.sigstore.dev']!.targets['trusted_root.json']!, 'base64').toString(
      'utf8',
    ),
  ) as Record<string, unknown>;
}

function expectCode(fn: () => unknown, code: string, text: RegExp): void {
  try {
    fn();
  } catch (err) {
    expect(isSealError(err)).toBe(true);
    expect((err as { code: string }).code).toBe(code);
    expect((err as Error).message).toMatch(text);
    return;
  }
  throw new Error('expected an error');
}

describe('trusted root', () => {
  it('loads the public-good root from the @sigstore/tuf seed without network', () => {
    const t = publicGoodTrustedRoot();
    expect(t.certificateAuthorities.length).toBeGreaterThanOrEqual(2);
    expect(
      t.tlogs.get('c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d')?.[0]?.baseUrl,
    ).toBe('https://rekor.sigstore.dev');
    expect(t.ctlogs.size).toBeGreaterThan(0);
    expect(t.timestampAuthorities.length).toBeGreaterThan(0);
    expect(publicGoodTrustedRoot()).toBe(t);
  });

  it('refuses a log key that is not SPKI DER at load, and one OpenSSL refuses when first used', () => {
    const notDer = publicGoodJson();
    const tlogs = notDer.tlogs as { publicKey: { rawBytes: string } }[];
    tlogs[0]!.publicKey.rawBytes = Buffer.from('not a key').toString('base64');
    expectCode(() => loadTrustedRoot(notDer), 'E_TRUSTED_ROOT_INVALID', /tlogs\[0\]\.publicKey\.rawBytes/);

    // an SPKI-shaped sequence whose algorithm and key OpenSSL cannot read: imported on first use (a root
    // names a dozen keys and a bundle uses two), and then refused with the same code, not read as "no key"
    const shaped = publicGoodJson();
    const logs = shaped.tlogs as { publicKey: { rawBytes: string } }[];
    logs[0]!.publicKey.rawBytes = Buffer.from([0x30, 0x06, 0x30, 0x00, 0x03, 0x02, 0x00, 0x00]).toString(
      'base64',
    );
    const t = loadTrustedRoot(shaped);
    const [entry] = [...t.tlogs.values()][0]!;
    expectCode(() => entry!.key, 'E_TRUSTED_ROOT_INVALID', /tlogs\[0\]\.publicKey\.rawBytes/);
    // a good key is imported once and kept
    const good = [...publicGoodTrustedRoot().tlogs.values()][0]![0]!;
    expect(good.key.asymmetricKeyType).toBe('ec');
    expect(good.key).toBe(good.key);
  });

  it('treats validFor as a closed interval and a missing end as open', () => {
    const t = publicGoodTrustedRoot();
    const first = t.certificateAuthorities[0]!;
    expect(inRange(first.validFor, first.validFor.end)).toBe(true);
    expect(inRange(first.validFor, first.validFor.end + 1)).toBe(false);
    expect(t.certificateAuthorities[1]!.validFor.end).toBe(Number.POSITIVE_INFINITY);
  });

  it('rejects a log key without validFor.start rather than trusting it forever', () => {
    const json = publicGoodJson();
    const tlogs = json.tlogs as { publicKey: { validFor: Record<string, unknown> } }[];
    delete tlogs[0]!.publicKey.validFor.start;
    expectCode(
      () => loadTrustedRoot(json),
      'E_TRUSTED_ROOT_INVALID',
      /tlogs\[0\]\.publicKey\.validFor\.start is required/,
    );
  });

  it('reads omitted or null proto3 zero values as defaults and enums by number, not as errors', () => {
    const json = publicGoodJson();
    type Log = { hashAlgorithm?: unknown; baseUrl?: unknown; publicKey: Record<string, unknown> };
    const tlogs = json.tlogs as Log[];
    // protobuf JSON writers leave these out at their zero value; null is the default too.
    delete tlogs[0]!.hashAlgorithm;
    delete tlogs[0]!.publicKey.keyDetails;
    tlogs[0]!.baseUrl = null;
    (json.ctlogs as Log[])[0]!.publicKey.keyDetails = 5; // PKIX_ECDSA_P256_SHA_256 by number
    json.timestampAuthorities = null;
    const t = loadTrustedRoot(json);
    const rekor = [...t.tlogs.values()].flat();
    expect(rekor.some((l) => l.keyDetails === 'PUBLIC_KEY_DETAILS_UNSPECIFIED' && l.baseUrl === '')).toBe(
      true,
    );
    expect([...t.ctlogs.values()].flat().some((l) => l.keyDetails === 'PKIX_ECDSA_P256_SHA_256')).toBe(true);
    expect(t.timestampAuthorities).toEqual([]);
    // A key type newer than seal's table is kept by name; an unknown number is refused.
    tlogs[0]!.publicKey.keyDetails = 'PKIX_FUTURE_KEY';
    expect([...loadTrustedRoot(json).tlogs.values()].flat().map((l) => l.keyDetails)).toContain(
      'PKIX_FUTURE_KEY',
    );
    tlogs[0]!.publicKey.keyDetails = 99;
    expectCode(() => loadTrustedRoot(json), 'E_TRUSTED_ROOT_INVALID', /tlogs\[0\]\.publicKey\.keyDetails/);
  });

  it('does not default what trust needs: a null validFor or start is still missing', () => {
    const json = publicGoodJson();
    (json.tlogs as { publicKey: Record<string, unknown> }[])[0]!.publicKey.validFor = null;
    expectCode(
      () => loadTrustedRoot(json),
      'E_TRUSTED_ROOT_INVALID',
      /tlogs\[0\]\.publicKey\.validFor is required/,
    );
    const ca = publicGoodJson();
    (ca.certificateAuthorities as { validFor: Record<string, unknown> }[])[0]!.validFor.start = null;
    expectCode(
      () => loadTrustedRoot(ca),
      'E_TRUSTED_ROOT_INVALID',
      /certificateAuthorities\[0\]\.validFor\.start is required/,
    );
  });

  it('names malformed fields: media type, base64, certificates', () => {
    const bad = publicGoodJson();
    bad.mediaType = 'text/plain';
    expectCode(() => loadTrustedRoot(bad), 'E_TRUSTED_ROOT_INVALID', /mediaType/);
    const b64 = publicGoodJson();
    (b64.ctlogs as { logId: { keyId: string } }[])[0]!.logId.keyId = '!!!';
    expectCode(
      () => loadTrustedRoot(b64),
      'E_TRUSTED_ROOT_INVALID',
      /ctlogs\[0\]\.logId\.keyId is not base64/,
    );
    const cert = publicGoodJson();
    (cert.certificateAuthorities as { certChain: { certificates: { rawBytes: string }[] } }[])[0]!.certChain
      .certificates[0]!.rawBytes = 'AAAA';
    expectCode(() => loadTrustedRoot(cert), 'E_TRUSTED_ROOT_INVALID', /certificates\[0\]/);
    expectCode(() => loadTrustedRoot(null), 'E_TRUSTED_ROOT_INVALID', /object/);
  });

  it('loads from a file, with E_IO for a missing one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'seal-trust-'));
    try {
      writeFileSync(join(dir, 'root.json'), JSON.stringify(publicGoodJson()));
      expect(
        (await loadTrustedRootFile(join(dir, 'root.json'))).certificateAuthorities.length,
      ).toBeGreaterThan(0);
      await expect(loadTrustedRootFile(join(dir, 'missing.json'))).rejects.toMatchObject({ code: 'E_IO' });
      writeFileSync(join(dir, 'bad.json'), '{');
      await expect(loadTrustedRootFile(join(dir, 'bad.json'))).rejects.toMatchObject({
        code: 'E_TRUSTED_ROOT_INVALID',
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
