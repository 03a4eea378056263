// seal demo: the whole key-based and keyless pipeline on an OCI layout on disk, offline, then each attack caught.
// Runs the CLI as child processes (`node bin/seal.js …`) so what it prints is what a user sees; exits non-zero
// if any step does not turn out as expected. cosign.md §1–§2e (sign, verify), sigstore-servers.md (serve).

import { spawn } from 'node:child_process';
import { cp, rm } from 'node:fs/promises';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import {
  Digest,
  MediaTypes,
  descriptorFor,
  encodeManifest,
  parseReference,
  signatureTag,
  storeFor,
} from '../dist/index.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SEAL = resolve(ROOT, 'bin/seal.js');
const DEMO_DIR = resolve('.seal-demo');
const LAYOUT = resolve(DEMO_DIR, 'layout');
const SNAPSHOT = resolve(DEMO_DIR, 'unsigned');
const ATTACKS = resolve(DEMO_DIR, 'attacks');
const IMAGE = `oci-layout:${LAYOUT}:latest`;
const OTHER = `oci-layout:${LAYOUT}:other`;
// The key password: cosign's and seal's variable, set here so the demo never prompts.
const PASSWORD = 'seal-demo-password';
// A fixed timestamp keeps the layers, and so every image digest, the same from run to run.
const EPOCH = new Date('2024-01-01T00:00:00Z');

let step = 0;
function heading(title) {
  step += 1;
  process.stdout.write(`\n== Step ${step}: ${title} ==\n`);
}

const say = (text) => process.stdout.write(`${text}\n`);
const rel = (p) => relative(process.cwd(), p) || '.';

class DemoFailure extends Error {}

/** Runs `node bin/seal.js ARGS`, echoing the command and its output (indented). Resolves to {code, out, err}. */
function seal(args, { quiet = false } = {}) {
  const shown = args.map((a) =>
    a.length > 120 ? `${a.slice(0, 24)}…` : /[\s"]/.test(a) ? JSON.stringify(a) : a,
  );
  say(`$ seal ${shown.join(' ')}`);
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [SEAL, ...args], {
      env: { ...process.env, SEAL_PASSWORD: PASSWORD },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (!quiet) {
        const show = (text) => {
          const t = text.replace(/\n+$/, '');
          if (t) say(t.replace(/^/gm, '  '));
        };
        show(err);
        show(out);
      }
      resolvePromise({ code, out, err });
    });
  });
}

/** A step that must succeed (exit 0). */
async function ok(args, options) {
  const r = await seal(args, options);
  if (r.code !== 0) throw new DemoFailure(`seal ${args[0]} exited ${r.code}, expected 0`);
  return r;
}

/** An attack that must be caught: non-zero exit `status` and `[code]` in the error output. */
async function caught(what, args, code, status) {
  const r = await seal(args);
  if (r.code === 0) throw new DemoFailure(`NOT CAUGHT: ${what} — seal ${args[0]} exited 0`);
  if (!r.err.includes(`[${code}]`) || r.code !== status) {
    throw new DemoFailure(`${what}: expected [${code}] with exit ${status}, got exit ${r.code}`);
  }
  say(`CAUGHT: ${what} -> ${code}, exit status ${r.code}`);
}

/** A tar archive of `files` (name → text), as bytes. */
async function tarOf(files) {
  const pack = tar.pack();
  for (const [name, text] of Object.entries(files)) {
    pack.entry({ name, mtime: EPOCH, mode: 0o644, uid: 0, gid: 0 }, text);
  }
  pack.finalize();
  const chunks = [];
  for await (const chunk of pack) chunks.push(chunk);
  return new Uint8Array(Buffer.concat(chunks));
}

/** Builds a one-layer image in memory and pushes it to `image` (an oci-layout reference). */
async function pushImage(image, greeting) {
  const layerTar = await tarOf({
    'etc/os-release': 'NAME="seal demo"\nID=seal-demo\nVERSION_ID=1\n',
    'app/hello.txt': `${greeting}\n`,
  });
  const layer = new Uint8Array(gzipSync(layerTar, { level: 9 }));
  const config = new TextEncoder().encode(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      created: EPOCH.toISOString(),
      config: { Cmd: ['/bin/cat', '/app/hello.txt'] },
      rootfs: { type: 'layers', diff_ids: [Digest.of(layerTar).toString()] },
    }),
  );
  const manifest = {
    schemaVersion: 2,
    mediaType: MediaTypes.ociManifest,
    config: descriptorFor(config, MediaTypes.ociConfig),
    layers: [descriptorFor(layer, MediaTypes.ociLayerGzip)],
    annotations: { 'org.opencontainers.image.title': 'seal demo' },
  };
  const manifestBytes = encodeManifest(manifest);
  const ref = parseReference(image);
  const store = storeFor(ref);
  await store.putBlob(ref, config, MediaTypes.ociConfig);
  await store.putBlob(ref, layer, MediaTypes.ociLayerGzip);
  const pushed = await store.putManifest(ref, manifestBytes, MediaTypes.ociManifest);
  if (pushed.digest !== Digest.of(manifestBytes).toString()) throw new DemoFailure('digest changed on push');
  say(`pushed ${image} (${pushed.digest}, one ${layer.byteLength}-byte layer)`);
  return pushed;
}

/** A copy of a layout directory for one attack, so each attack starts from the signed state. */
async function copyLayout(from, name) {
  const dir = resolve(ATTACKS, name);
  await rm(dir, { recursive: true, force: true });
  await cp(from, dir, { recursive: true });
  return dir;
}

/** Starts `seal serve` as a child; resolves once it prints its URL. */
function startServe() {
  const args = ['serve', '--data', resolve(DEMO_DIR, 'serve'), '--port', '0'];
  say(`$ seal ${args.join(' ')} &`);
  const child = spawn(process.execPath, [SEAL, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      reject(new DemoFailure(`seal serve did not start in 30 s:\n${err}`));
    }, 30_000);
    const check = () => {
      const url = /listening on (\S+)/.exec(out)?.[1];
      const trustedRoot = /trusted root:\s+(\S+)/.exec(err)?.[1];
      const signingConfig = /signing config:\s+(\S+)/.exec(err)?.[1];
      const issuer = /dev OIDC issuer:\s+(\S+)/.exec(err)?.[1];
      if (url && trustedRoot && signingConfig && issuer) {
        clearTimeout(timer);
        say(`  seal serve listening on ${url}\n  dev OIDC issuer ${issuer}`);
        resolvePromise({ child, url, trustedRoot, signingConfig, issuer });
      }
    };
    child.stdout.on('data', (d) => {
      out += d;
      check();
    });
    child.stderr.on('data', (d) => {
      err += d;
      check();
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new DemoFailure(`seal serve exited ${code} before it was ready:\n${err}`));
    });
  });
}

async function run() {
  await rm(DEMO_DIR, { recursive: true, force: true });

  heading(`build the sample image into ${rel(LAYOUT)} (OCI layout, no registry)`);
  const image = await pushImage(IMAGE, 'Hello from an image signed and verified by seal.');
  const other = await pushImage(OTHER, 'Another image, never signed.');
  await cp(LAYOUT, SNAPSHOT, { recursive: true });

  heading('generate a key pair (password from SEAL_PASSWORD, set by this script)');
  const key = resolve(DEMO_DIR, 'cosign');
  const attackerKey = resolve(DEMO_DIR, 'attacker');
  await ok(['generate-key-pair', '--output-key-prefix', rel(key)]);
  await ok(['generate-key-pair', '--output-key-prefix', rel(attackerKey)], { quiet: true });
  say(`  (and ${rel(attackerKey)}.key / .pub, someone else's key, for the attacks below)`);
  const pub = `${rel(key)}.pub`;

  heading('sign the image (Sigstore bundle v0.3, attached as an OCI 1.1 referrer: cosign v3 default)');
  await ok(['sign', '--key', `${rel(key)}.key`, '-a', 'team=demo', '-y', IMAGE]);

  heading('sign it again in the legacy format (simple-signing payload in the .sig tag: cosign v2)');
  await ok(['sign', '--key', `${rel(key)}.key`, '-a', 'team=demo', '--new-bundle-format=false', '-y', IMAGE]);

  heading('verify it with the public key (checks on stderr, verified payloads on stdout)');
  const verified = await ok(['verify', '--key', pub, '-a', 'team=demo', '--insecure-ignore-tlog', IMAGE]);
  const payloads = JSON.parse(verified.out);
  if (payloads.length !== 2) throw new DemoFailure(`expected 2 verified payloads, got ${payloads.length}`);
  for (const p of payloads) {
    if (p.critical?.image?.['docker-manifest-digest'] !== image.digest)
      throw new DemoFailure('a verified payload names another digest');
  }
  say(`VERIFIED: ${payloads.length} signatures (bundle + legacy) for ${image.digest}`);

  heading('what is attached to it (seal tree)');
  await ok(['tree', IMAGE]);

  // Attack 1: the attacker edits the signed payload of a legacy signature and re-points the .sig manifest.
  heading('attack: payload edited after signing');
  const tamperDir = await copyLayout(SNAPSHOT, 'tampered-payload');
  const tamperImage = `oci-layout:${tamperDir}:latest`;
  await ok(['sign', '--key', `${rel(key)}.key`, '--new-bundle-format=false', '-y', tamperImage], {
    quiet: true,
  });
  {
    const ref = parseReference(tamperImage);
    const store = storeFor(ref);
    const sigRef = parseReference(`oci-layout:${tamperDir}:${signatureTag(image.digest)}`);
    const sig = await store.getManifest(sigRef);
    const layer = sig.manifest.layers[0];
    const payload = JSON.parse(
      new TextDecoder().decode(await store.getBlob(sigRef, Digest.parse(layer.digest))),
    );
    payload.optional = { ...(payload.optional ?? {}), approved: 'yes' };
    const edited = new TextEncoder().encode(JSON.stringify(payload));
    const desc = await store.putBlob(sigRef, edited, layer.mediaType);
    const manifest = { ...sig.manifest, layers: [{ ...layer, digest: desc.digest, size: desc.size }] };
    await store.putManifest(sigRef, encodeManifest(manifest), sig.mediaType);
    say(`  edited the payload (optional.approved = "yes") and re-pointed ${signatureTag(image.digest)}`);
  }
  await caught(
    'payload edited after signing',
    ['verify', '--key', pub, '--insecure-ignore-tlog', tamperImage],
    'E_SIGNATURE_INVALID',
    12,
  );

  // Attack 2: the tag is moved to an image nobody signed.
  heading('attack: tag moved to another (unsigned) image');
  const movedDir = await copyLayout(LAYOUT, 'tag-moved');
  {
    const ref = parseReference(`oci-layout:${movedDir}:latest`);
    await storeFor(ref).tag(ref, 'latest', other);
    say(`  re-pointed latest from ${image.digest.slice(0, 19)}… to ${other.digest.slice(0, 19)}…`);
  }
  await caught(
    'tag moved to an unsigned image',
    ['verify', '--key', pub, '--insecure-ignore-tlog', `oci-layout:${movedDir}:latest`],
    'E_NO_SIGNATURES',
    10,
  );

  // Attack 3: a valid signature of one image is copied to another image's .sig tag.
  heading('attack: signature copied from another image');
  const copiedDir = await copyLayout(LAYOUT, 'signature-copied');
  {
    const from = parseReference(`oci-layout:${copiedDir}:${signatureTag(image.digest)}`);
    const to = parseReference(`oci-layout:${copiedDir}:${signatureTag(other.digest)}`);
    const store = storeFor(from);
    const sig = await store.getManifest(from);
    await store.putManifest(to, sig.bytes, sig.mediaType);
    say(
      `  copied ${signatureTag(image.digest).slice(0, 20)}… to ${signatureTag(other.digest).slice(0, 20)}…`,
    );
  }
  await caught(
    'signature copied from another image',
    ['verify', '--key', pub, '--insecure-ignore-tlog', `oci-layout:${copiedDir}:other`],
    'E_SUBJECT_MISMATCH',
    12,
  );

  // Attack 4: someone else's key.
  heading('attack: verified with the wrong public key');
  await caught(
    'wrong public key',
    ['verify', '--key', `${rel(attackerKey)}.pub`, '--insecure-ignore-tlog', IMAGE],
    'E_SIGNATURE_INVALID',
    12,
  );

  heading('keyless: seal serve (transparency log, CA, dev OIDC issuer) on loopback');
  const serve = await startServe();
  try {
    heading('keyless: mint an identity token, sign with a short-lived certificate, log the signature');
    const identity = 'alice@example.com';
    const token = (
      await ok(['token', '--server', serve.url, '--identity', identity], { quiet: true })
    ).out.trim();
    say(`  token for ${identity}: ${token.slice(0, 24)}…`);
    const keylessImage = `oci-layout:${LAYOUT}:other`;
    await ok([
      'sign',
      '--signing-config',
      serve.signingConfig,
      '--identity-token',
      token,
      '-y',
      keylessImage,
    ]);

    heading('keyless: verify the pinned identity and issuer against the trusted root');
    const base = ['verify', '--trusted-root', serve.trustedRoot, '--certificate-oidc-issuer', serve.issuer];
    await ok([...base, '--certificate-identity', identity, keylessImage]);
    say(`VERIFIED: ${keylessImage} signed by ${identity} (certificate chain, log entry)`);

    heading('attack: keyless signature verified for another identity');
    await caught(
      'wrong identity',
      [...base, '--certificate-identity', 'mallory@example.com', keylessImage],
      'E_IDENTITY_MISMATCH',
      12,
    );
  } finally {
    serve.child.kill('SIGTERM');
  }

  say('\nDemo complete: signed, verified, and every attack was caught.');
  return 0;
}

run().then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(
      `\ndemo failed: ${err instanceof DemoFailure ? err.message : (err?.stack ?? err)}\n`,
    );
    process.exitCode = 1;
  },
);
