// Asking a timestamp authority to stamp a signature, as cosign and sigstore-go do (wave2-facts.md §1.2): a DER
// TimeStampReq over SHA-256(signature) to the TSA's full URL (application/timestamp-query), here with a random
// nonce; 200 or 201 with a DER TimeStampResp of at most 1 MiB. The answer is checked before it goes into a
// bundle: status granted, a TSTInfo whose imprint is ours and whose nonce is echoed. Its signature and chain
// are the verifier's business (trusted_root.json).

import { createHash, randomBytes } from 'node:crypto';
import { SignedData } from '@peculiar/asn1-cms';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  id_ct_tstInfo,
  MessageImprint,
  PKIStatus,
  TimeStampReq,
  TimeStampResp,
  TSTInfo,
} from '@peculiar/asn1-tsp';
import { AlgorithmIdentifier } from '@peculiar/asn1-x509';
import { SealError } from '../errors.js';
import { HASH_OIDS } from './token.js';

/** cosign/sigstore-go read at most this much of a TSA's answer. */
export const MAX_TIMESTAMP_RESPONSE = 1024 * 1024;
const DEFAULT_TIMEOUT_MS = 30_000;

export interface TimestampClientOptions {
  timeoutMs?: number;
  fetch?: typeof fetch;
}

const buf = (b: Uint8Array): ArrayBuffer => Uint8Array.from(b).buffer;

function nonceBytes(): Uint8Array {
  const n = randomBytes(8);
  n[0] = (n[0]! & 0x7f) | 0x01; // positive, minimal
  return new Uint8Array(n);
}

async function readBounded(res: Response, url: string): Promise<Uint8Array> {
  const declared = Number(res.headers.get('content-length') ?? '0');
  if (declared > MAX_TIMESTAMP_RESPONSE)
    throw new SealError(
      'E_TIMESTAMP_INVALID',
      `the TSA at ${url} answered more than ${MAX_TIMESTAMP_RESPONSE} bytes`,
    );
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of res.body ?? []) {
    total += chunk.length;
    if (total > MAX_TIMESTAMP_RESPONSE) {
      throw new SealError(
        'E_TIMESTAMP_INVALID',
        `the TSA at ${url} answered more than ${MAX_TIMESTAMP_RESPONSE} bytes`,
      );
    }
    chunks.push(chunk);
  }
  return new Uint8Array(Buffer.concat(chunks));
}

/** A timestamp authority at a full URL (e.g. `https://tsa.example/api/v1/timestamp`). */
export class TimestampClient {
  private readonly timeoutMs: number;
  private readonly fetch: typeof fetch;

  constructor(
    readonly url: string,
    opts: TimestampClientOptions = {},
  ) {
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.fetch = opts.fetch ?? fetch;
  }

  /** A DER TimeStampResp over SHA-256(signature). E_NETWORK when unreachable, E_TIMESTAMP_INVALID when wrong. */
  async timestamp(signature: Uint8Array): Promise<Uint8Array> {
    const digest = new Uint8Array(createHash('sha256').update(signature).digest());
    const nonce = nonceBytes();
    const query = new TimeStampReq({
      version: 1,
      messageImprint: new MessageImprint({
        hashAlgorithm: new AlgorithmIdentifier({ algorithm: HASH_OIDS.sha256 }),
        hashedMessage: new OctetString(buf(digest)),
      }),
      nonce: buf(nonce),
      certReq: false,
    });
    let res: Response;
    try {
      res = await this.fetch(this.url, {
        method: 'POST',
        headers: { 'content-type': 'application/timestamp-query', accept: 'application/timestamp-reply' },
        body: Buffer.from(AsnConvert.serialize(query)),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (cause) {
      throw new SealError(
        'E_NETWORK',
        `cannot reach the timestamp authority ${this.url}: ${(cause as Error).message}`,
        {
          cause,
        },
      );
    }
    if (res.status !== 200 && res.status !== 201) {
      const text = (await res.text().catch(() => '')).slice(0, 300);
      throw new SealError(
        res.status >= 500 ? 'E_NETWORK' : 'E_TIMESTAMP_INVALID',
        `the timestamp authority ${this.url} answered ${res.status}${text ? `: ${text}` : ''}`,
      );
    }
    const der = await readBounded(res, this.url);
    checkResponse(der, digest, nonce, this.url);
    return der;
  }
}

/** The TSA answered what we asked: granted, over our digest, with our nonce. */
function checkResponse(der: Uint8Array, digest: Uint8Array, nonce: Uint8Array, url: string): void {
  const bad = (why: string) =>
    new SealError('E_TIMESTAMP_INVALID', `the timestamp authority ${url} answered ${why}`);
  let tst: TSTInfo;
  try {
    const resp = AsnConvert.parse(der, TimeStampResp);
    if (resp.status.status !== PKIStatus.granted && resp.status.status !== PKIStatus.grantedWithMods)
      throw bad(`status ${resp.status.status} (${resp.status.statusString?.join(' ') ?? 'refused'})`);
    if (!resp.timeStampToken) throw bad('no timestamp token');
    const sd = AsnConvert.parse(resp.timeStampToken.content, SignedData);
    if (sd.encapContentInfo.eContentType !== id_ct_tstInfo || !sd.encapContentInfo.eContent?.single)
      throw bad('a token without a TSTInfo');
    tst = AsnConvert.parse(sd.encapContentInfo.eContent.single.buffer, TSTInfo);
  } catch (err) {
    if (err instanceof SealError) throw err;
    throw bad(`something that is not a DER TimeStampResp (${(err as Error).message})`);
  }
  const imprint = new Uint8Array(tst.messageImprint.hashedMessage.buffer);
  if (tst.messageImprint.hashAlgorithm.algorithm !== HASH_OIDS.sha256 || !Buffer.from(imprint).equals(digest))
    throw bad('a timestamp over other data than the signature');
  if (!tst.nonce || !Buffer.from(new Uint8Array(tst.nonce)).equals(Buffer.from(nonce)))
    throw bad('a timestamp without the nonce we sent');
}
