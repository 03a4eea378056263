// seal demo: build a small image in memory, push it into an OCI layout on disk, show its digest and tree.
// Uses only the public library (dist/index.js) and the CLI entry (dist/cli/main.js); later steps grow it into the full pipeline.

import { rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { main } from '../dist/cli/main.js';
import {
  Digest,
  MediaTypes,
  descriptorFor,
  encodeManifest,
  parseReference,
  storeFor,
} from '../dist/index.js';

const DEMO_DIR = resolve('.seal-demo');
const LAYOUT = resolve(DEMO_DIR, 'layout');
const IMAGE = `oci-layout:${LAYOUT}:latest`;
// A fixed timestamp keeps the layer, and so every digest, the same from run to run.
const EPOCH = new Date('2024-01-01T00:00:00Z');

function heading(n, title) {
  process.stdout.write(`\n== Step ${n}: ${title} ==\n`);
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

async function buildImage() {
  const layerTar = await tarOf({
    'etc/os-release': 'NAME="seal demo"\nID=seal-demo\nVERSION_ID=1\n',
    'app/hello.txt': 'Hello from an image signed and verified by seal.\n',
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
  return { layer, config, manifest, manifestBytes: encodeManifest(manifest) };
}

async function run() {
  heading(1, 'build a sample image in memory');
  const image = await buildImage();
  process.stdout.write(
    `one gzip'd tar layer (${image.layer.byteLength} bytes, 2 files), a config, an OCI manifest\n`,
  );

  heading(2, `push it to an OCI layout at ${LAYOUT}`);
  await rm(LAYOUT, { recursive: true, force: true });
  const ref = parseReference(IMAGE);
  const store = storeFor(ref);
  await store.putBlob(ref, image.config, MediaTypes.ociConfig);
  await store.putBlob(ref, image.layer, MediaTypes.ociLayerGzip);
  const pushed = await store.putManifest(ref, image.manifestBytes, MediaTypes.ociManifest);
  process.stdout.write(`pushed ${IMAGE}\n`);

  heading(3, 'resolve its digest (seal digest)');
  let code = await main(['digest', IMAGE]);
  if (code !== 0) return code;
  if (pushed.digest !== Digest.of(image.manifestBytes).toString()) throw new Error('digest changed on push');

  heading(4, 'what is attached to it (seal tree)');
  code = await main(['tree', IMAGE]);
  return code;
}

run().then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`demo failed: ${err?.stack ?? err}\n`);
    process.exitCode = 1;
  },
);
