// Fuzzing the transparency log's inputs: proposed entries (what a submitter sends the log), log entry
// responses (what a client reads back from a log), entry bodies and signed checkpoints. Only SealErrors
// escape; a log entry whose signed fields are mutated never verifies.

import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCheckpoint, parseSignedNote } from '../../src/tlog/checkpoint.js';
import { type LogEntry, logEntryToJson, parseLogEntryMap } from '../../src/tlog/entry.js';
import { openLog, type TransparencyLog } from '../../src/tlog/log.js';
import { decodeBody, pae, prepareEntry } from '../../src/tlog/types/index.js';
import { entryMatches, type TrustedLog, trustedLogFromPem, verifyEntry } from '../../src/tlog/verify.js';
import {
  check,
  checkAsync,
  hostileValue,
  mutatedBytes,
  mutatedJson,
  onlySealErrors,
  onlySealErrorsAsync,
  utf8,
} from '../support/fuzz.js';

const b64 = (b: Uint8Array | Buffer) => Buffer.from(b).toString('base64');
const key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const pem = key.publicKey.export({ type: 'spki', format: 'pem' }).toString();
const artifact = utf8('artifact');
const digest = createHash('sha256').update(artifact).digest();
const signature = sign('sha256', artifact, key.privateKey);
const payload = utf8(
  '{"_type":"https://in-toto.io/Statement/v1","subject":[],"predicateType":"x","predicate":{}}',
);
const payloadType = 'application/vnd.in-toto+json';
const dsseSig = sign('sha256', pae(payloadType, payload), key.privateKey);
const envelope = { payload: b64(payload), payloadType, signatures: [{ keyid: '', sig: b64(dsseSig) }] };

const proposed = [
  {
    apiVersion: '0.0.1',
    kind: 'hashedrekord',
    spec: {
      data: { hash: { algorithm: 'sha256', value: digest.toString('hex') } },
      signature: { content: b64(signature), publicKey: { content: b64(Buffer.from(pem)) } },
    },
  },
  {
    apiVersion: '0.0.1',
    kind: 'dsse',
    spec: { proposedContent: { envelope: JSON.stringify(envelope), verifiers: [b64(Buffer.from(pem))] } },
  },
  {
    apiVersion: '0.0.2',
    kind: 'intoto',
    spec: {
      content: {
        envelope: {
          payload: b64(Buffer.from(b64(payload))),
          payloadType,
          signatures: [{ sig: b64(Buffer.from(b64(dsseSig))), publicKey: b64(Buffer.from(pem)) }],
        },
      },
    },
  },
];

let dir: string;
let log: TransparencyLog;
let logs: TrustedLog[];
let entry: LogEntry;
let checkpoint: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'seal-tlog-fuzz-'));
  log = await openLog({ db: `sqlite:${join(dir, 'log.db')}`, origin: 'localhost' });
  logs = [trustedLogFromPem(log.publicKeyPem())];
  const appended = await log.appendEntry(proposed[0]);
  entry = parseLogEntryMap(logEntryToJson(appended as LogEntry))[0]!;
  await log.appendEntry(proposed[1]);
  checkpoint = entry.verification.inclusionProof!.checkpoint;
}, 60_000);

afterAll(async () => {
  await log?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('transparency log inputs (fuzz)', () => {
  it('the valid proposed entries are accepted and the logged entry verifies', async () => {
    for (const p of proposed) expect((await prepareEntry(p)).kind).toBe(p.kind);
    verifyEntry(entry, logs, {
      signature,
      artifactDigest: { algorithm: 'sha256', hex: digest.toString('hex') },
      publicKey: pem,
    });
  });

  it('proposed entries: mutated documents give a prepared entry or a SealError', async () => {
    await checkAsync(
      fc.asyncProperty(fc.oneof(...proposed.map(mutatedJson), hostileValue), async (doc) => {
        await onlySealErrorsAsync(() => prepareEntry(JSON.parse(JSON.stringify(doc) ?? 'null')));
      }),
      200,
    );
  });

  it('log entry responses: a mutated response parses to entries or E_TLOG_INVALID, and never verifies unless unchanged', () => {
    const wire = JSON.parse(JSON.stringify(logEntryToJson(entry))) as unknown;
    const expected = {
      signature,
      artifactDigest: { algorithm: 'sha256' as const, hex: digest.toString('hex') },
      publicKey: pem,
    };
    check(
      fc.property(
        fc.oneof(
          mutatedJson(wire),
          mutatedBytes(utf8(JSON.stringify(wire))).map((b) => {
            try {
              return JSON.parse(Buffer.from(b).toString('utf8')) as unknown;
            } catch {
              return null;
            }
          }),
        ),
        (doc) => {
          const entries = onlySealErrors(
            () => parseLogEntryMap(JSON.parse(JSON.stringify(doc) ?? 'null')),
            ['E_TLOG_INVALID'],
          );
          for (const e of entries ?? []) {
            let verified = false;
            try {
              verifyEntry(e, logs, expected);
              verified = true;
            } catch (err) {
              expect((err as { code?: string }).code, String(err)).toMatch(/^E_/);
            }
            if (verified) {
              // What a verified entry says is what the log signed.
              expect(e.body).toBe(entry.body);
              expect(e.integratedTime).toBe(entry.integratedTime);
              expect(e.logIndex).toBe(entry.logIndex);
              expect(e.logID.toLowerCase()).toBe(entry.logID.toLowerCase());
            }
          }
        },
      ),
      200,
    );
  });

  it('entry bodies: whatever a log signed, matching it against expectations gives E_TLOG_INVALID or passes', () => {
    const body = decodeBody(entry.body);
    check(
      fc.property(fc.oneof(mutatedJson(body), hostileValue), (doc) => {
        const e = { ...entry, body: b64(utf8(JSON.stringify(doc) ?? 'null')) };
        onlySealErrors(() =>
          entryMatches(e, {
            signature,
            artifactDigest: { algorithm: 'sha256', hex: digest.toString('hex') },
            publicKey: pem,
            envelope,
          }),
        );
      }),
      200,
    );
  });

  it('a logged hashedrekord whose hash value is a number is E_TLOG_INVALID (regression: a TypeError escaped)', () => {
    const body = decodeBody(entry.body) as { spec: { data: { hash: { value: unknown } } } };
    body.spec.data.hash.value = 0;
    const e = { ...entry, body: b64(utf8(JSON.stringify(body))) };
    expect(() =>
      entryMatches(e, { artifactDigest: { algorithm: 'sha256', hex: digest.toString('hex') } }),
    ).toThrow(expect.objectContaining({ code: 'E_TLOG_INVALID' }));
  });

  it('checkpoints and signed notes: only SealErrors', () => {
    expect(parseSignedNote(checkpoint).signatures.length).toBeGreaterThan(0);
    check(
      fc.property(mutatedBytes(utf8(checkpoint)), (b) => {
        const text = Buffer.from(b).toString('utf8');
        onlySealErrors(() => parseSignedNote(text));
        onlySealErrors(() => parseCheckpoint(text));
      }),
      200,
    );
  });
});
