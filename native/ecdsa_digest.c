/*
 * The log's two ECDSA hot spots, through the OpenSSL that Node itself carries (its exported symbols, its headers),
 * via Node-API, on the libuv thread pool for batches. Measurements showed both to be the log's bottleneck under load.
 * - Verification over a given digest (FIPS 186-5 §6.4.2) for hashedrekord entries, which carry the artifact's
 *   digest and never the artifact: node:crypto only verifies over a message it hashes itself, and the JavaScript
 *   route (two ECDH multiplications and BigInt field arithmetic) costs ~4x OpenSSL's native check.
 * - Signing a batch of messages (signed entry timestamps, one per entry) in one trip to the thread pool instead of
 *   one crypto.sign job per entry.
 * Optional: when it cannot be built or loaded, seal uses node:crypto and the JavaScript route
 * (src/tlog/types/crypto.ts, src/tlog/logkey.ts).
 */
#define NAPI_VERSION 8
/* EC_KEY/ECDSA_verify are deprecated in OpenSSL 3 but avoid the provider lookups that the EVP route pays per call */
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <node_api.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/bn.h>
#include <openssl/obj_mac.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(call)                                                                                                 \
  do {                                                                                                              \
    if ((call) != napi_ok) return NULL;                                                                             \
  } while (0)

static napi_value throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, NULL, msg);
  return NULL;
}

static void free_key(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  EC_KEY_free((EC_KEY *)data);
}

static int curve_nid(const char *name) {
  if (strcmp(name, "prime256v1") == 0) return NID_X9_62_prime256v1;
  if (strcmp(name, "secp384r1") == 0) return NID_secp384r1;
  if (strcmp(name, "secp521r1") == 0) return NID_secp521r1;
  return NID_undef;
}

/* An EC_KEY for (curve name, SEC1 point); NULL with *problem set. Checks the point lies on the curve. */
static EC_KEY *public_key_from(napi_env env, napi_value curve, napi_value point_value, const char **problem) {
  char name[32];
  size_t name_len = 0;
  if (napi_get_value_string_utf8(env, curve, name, sizeof name, &name_len) != napi_ok) {
    *problem = "curve must be a string";
    return NULL;
  }
  int nid = curve_nid(name);
  if (nid == NID_undef) {
    *problem = "unsupported curve";
    return NULL;
  }
  void *point = NULL;
  size_t point_len = 0;
  if (napi_get_buffer_info(env, point_value, &point, &point_len) != napi_ok) {
    *problem = "point must be a Buffer";
    return NULL;
  }
  EC_KEY *key = EC_KEY_new_by_curve_name(nid);
  if (key == NULL) {
    *problem = "curve unavailable";
    return NULL;
  }
  const unsigned char *p = (const unsigned char *)point;
  if (o2i_ECPublicKey(&key, &p, (long)point_len) == NULL) {
    EC_KEY_free(key);
    *problem = "not a point on the curve";
    return NULL;
  }
  return key;
}

/* The key as a JavaScript external that frees it when collected. */
static napi_value wrap_key(napi_env env, EC_KEY *key) {
  napi_value out;
  if (napi_create_external(env, key, free_key, NULL, &out) != napi_ok) {
    EC_KEY_free(key);
    return NULL;
  }
  return out;
}

/* createKey(curve: string, point: Buffer /- SEC1 uncompressed -/): External<EC_KEY> */
static napi_value create_key(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) return throw_type(env, "createKey(curve, point)");
  const char *problem = NULL;
  EC_KEY *key = public_key_from(env, argv[0], argv[1], &problem);
  if (key == NULL) return throw_type(env, problem);
  return wrap_key(env, key);
}

static EC_KEY *key_of(napi_env env, napi_value v) {
  void *data = NULL;
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_external) return NULL;
  if (napi_get_value_external(env, v, &data) != napi_ok) return NULL;
  return (EC_KEY *)data;
}

/*
 * 1 when e, the digest's leftmost bits (as many as the order has, FIPS 186-5 §6.4.2), is 0 mod n. Then u1 = 0 and
 * (r, s) = (x(Q) mod n, x(Q) mod n) verifies for any public key Q: OpenSSL accepts it, so it is refused here
 * (src/keys/ecdsa-digest.ts holds the same rule for the JavaScript side). As e < 2^bits(n) <= 2n, e mod n = 0
 * exactly when e = 0 or e = n.
 */
static int digest_is_zero_mod_order(const EC_KEY *key, const unsigned char *digest, size_t digest_len) {
  const BIGNUM *order = EC_GROUP_get0_order(EC_KEY_get0_group(key));
  if (order == NULL) return 1;
  int order_bits = BN_num_bits(order);
  BIGNUM *e = BN_bin2bn(digest, (int)digest_len, NULL);
  if (e == NULL) return 1;
  int ok = 1;
  if ((int)digest_len * 8 > order_bits) ok = BN_rshift(e, e, (int)digest_len * 8 - order_bits);
  int zero = !ok || BN_is_zero(e) || BN_cmp(e, order) == 0;
  BN_free(e);
  return zero;
}

/* 1 when the DER signature verifies over the digest; OpenSSL rejects non-canonical DER and out-of-range r, s */
static int check(EC_KEY *key, const unsigned char *digest, size_t digest_len, const unsigned char *sig,
                 size_t sig_len) {
  if (digest_len > 64 || sig_len > 256) return 0;
  if (digest_is_zero_mod_order(key, digest, digest_len)) return 0;
  return ECDSA_verify(0, digest, (int)digest_len, sig, (int)sig_len, key) == 1;
}

/* verify(key, digest: Buffer, signature: Buffer): boolean */
static napi_value verify_one(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) return throw_type(env, "verify(key, digest, signature)");
  EC_KEY *key = key_of(env, argv[0]);
  if (key == NULL) return throw_type(env, "key must come from createKey");
  void *digest, *sig;
  size_t digest_len, sig_len;
  if (napi_get_buffer_info(env, argv[1], &digest, &digest_len) != napi_ok ||
      napi_get_buffer_info(env, argv[2], &sig, &sig_len) != napi_ok)
    return throw_type(env, "digest and signature must be Buffers");
  napi_value out;
  CHECK(napi_get_boolean(env, check(key, digest, digest_len, sig, sig_len), &out));
  return out;
}

/* A batch copied out of JavaScript memory, checked on the thread pool. */
typedef struct {
  size_t n;
  EC_KEY **keys;         /* one reference each (EC_KEY_up_ref), dropped when done */
  unsigned char *bytes;  /* digests and signatures, back to back */
  size_t *digest_off, *digest_len, *sig_off, *sig_len;
  unsigned char *results;
  napi_async_work work;
  napi_ref callback;
} batch_t;

static void batch_free(batch_t *b) {
  for (size_t i = 0; i < b->n; i++) EC_KEY_free(b->keys[i]);
  free(b->keys);
  free(b->bytes);
  free(b->digest_off);
  free(b->digest_len);
  free(b->sig_off);
  free(b->sig_len);
  free(b->results);
  free(b);
}

static void batch_execute(napi_env env, void *data) {
  (void)env;
  batch_t *b = (batch_t *)data;
  for (size_t i = 0; i < b->n; i++) {
    b->results[i] = (unsigned char)check(b->keys[i], b->bytes + b->digest_off[i], b->digest_len[i],
                                         b->bytes + b->sig_off[i], b->sig_len[i]);
  }
}

static void batch_complete(napi_env env, napi_status status, void *data) {
  batch_t *b = (batch_t *)data;
  napi_value cb, global, argv[2], undefined;
  if (napi_get_reference_value(env, b->callback, &cb) == napi_ok && napi_get_global(env, &global) == napi_ok &&
      napi_get_undefined(env, &undefined) == napi_ok) {
    if (status == napi_ok) {
      void *out = NULL;
      napi_value ab;
      if (napi_create_arraybuffer(env, b->n, &out, &ab) == napi_ok &&
          napi_create_typedarray(env, napi_uint8_array, b->n, ab, 0, &argv[1]) == napi_ok) {
        memcpy(out, b->results, b->n);
        argv[0] = undefined;
        napi_call_function(env, global, cb, 2, argv, NULL);
      }
    } else {
      napi_value msg;
      napi_create_string_utf8(env, "batch verification was cancelled", NAPI_AUTO_LENGTH, &msg);
      napi_create_error(env, NULL, msg, &argv[0]);
      napi_call_function(env, global, cb, 1, argv, NULL);
    }
  }
  napi_delete_reference(env, b->callback);
  napi_delete_async_work(env, b->work);
  batch_free(b);
}

/* verifyBatch(keys: External[], digests: Buffer[], signatures: Buffer[], callback(err, results: Uint8Array)) */
static napi_value verify_batch(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 4) return throw_type(env, "verifyBatch(keys, digests, signatures, callback)");
  uint32_t n = 0, nd = 0, ns = 0;
  if (napi_get_array_length(env, argv[0], &n) != napi_ok || napi_get_array_length(env, argv[1], &nd) != napi_ok ||
      napi_get_array_length(env, argv[2], &ns) != napi_ok || n != nd || n != ns)
    return throw_type(env, "keys, digests and signatures must be arrays of one length");
  napi_valuetype cbt;
  if (napi_typeof(env, argv[3], &cbt) != napi_ok || cbt != napi_function)
    return throw_type(env, "callback must be a function");
  batch_t *b = calloc(1, sizeof *b);
  if (b == NULL) return throw_type(env, "out of memory");
  size_t count = n ? n : 1;
  b->keys = calloc(count, sizeof *b->keys);
  b->digest_off = calloc(count, sizeof(size_t));
  b->digest_len = calloc(count, sizeof(size_t));
  b->sig_off = calloc(count, sizeof(size_t));
  b->sig_len = calloc(count, sizeof(size_t));
  b->results = calloc(count, 1);
  size_t cap = count * 128, used = 0;
  b->bytes = malloc(cap);
  if (!b->keys || !b->digest_off || !b->digest_len || !b->sig_off || !b->sig_len || !b->results || !b->bytes) {
    batch_free(b);
    return throw_type(env, "out of memory");
  }
  const char *problem = NULL;
  for (uint32_t i = 0; i < n && problem == NULL; i++) {
    napi_value k, d, s;
    void *dp, *sp;
    size_t dl, sl;
    if (napi_get_element(env, argv[0], i, &k) != napi_ok || napi_get_element(env, argv[1], i, &d) != napi_ok ||
        napi_get_element(env, argv[2], i, &s) != napi_ok) {
      problem = "unreadable batch element";
      break;
    }
    EC_KEY *key = key_of(env, k);
    if (key == NULL) {
      problem = "key must come from createKey";
      break;
    }
    if (napi_get_buffer_info(env, d, &dp, &dl) != napi_ok || napi_get_buffer_info(env, s, &sp, &sl) != napi_ok) {
      problem = "digest and signature must be Buffers";
      break;
    }
    if (used + dl + sl > cap) {
      size_t next = (used + dl + sl) * 2;
      unsigned char *grown = realloc(b->bytes, next);
      if (grown == NULL) {
        problem = "out of memory";
        break;
      }
      b->bytes = grown;
      cap = next;
    }
    memcpy(b->bytes + used, dp, dl);
    b->digest_off[i] = used;
    b->digest_len[i] = dl;
    used += dl;
    memcpy(b->bytes + used, sp, sl);
    b->sig_off[i] = used;
    b->sig_len[i] = sl;
    used += sl;
    EC_KEY_up_ref(key);
    b->keys[i] = key;
    b->n = i + 1;
  }
  if (problem != NULL) {
    batch_free(b);
    return throw_type(env, problem);
  }
  napi_value name;
  if (napi_create_reference(env, argv[3], 1, &b->callback) != napi_ok ||
      napi_create_string_utf8(env, "sealEcdsaDigestBatch", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, batch_execute, batch_complete, b, &b->work) != napi_ok ||
      napi_queue_async_work(env, b->work) != napi_ok) {
    batch_free(b);
    return throw_type(env, "could not queue the batch");
  }
  napi_value undefined;
  CHECK(napi_get_undefined(env, &undefined));
  return undefined;
}

/* createSigningKey(curve: string, d: Buffer /- big-endian scalar -/, point: Buffer /- SEC1 uncompressed -/) */
static napi_value create_signing_key(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) return throw_type(env, "createSigningKey(curve, d, point)");
  void *d = NULL;
  size_t d_len = 0;
  if (napi_get_buffer_info(env, argv[1], &d, &d_len) != napi_ok) return throw_type(env, "d must be a Buffer");
  const char *problem = NULL;
  EC_KEY *key = public_key_from(env, argv[0], argv[2], &problem);
  if (key == NULL) return throw_type(env, problem);
  BIGNUM *bn = BN_bin2bn((const unsigned char *)d, (int)d_len, NULL);
  int ok = bn != NULL && EC_KEY_set_private_key(key, bn) == 1 && EC_KEY_check_key(key) == 1;
  BN_clear_free(bn);
  if (!ok) {
    EC_KEY_free(key);
    return throw_type(env, "not a valid private key for the curve");
  }
  return wrap_key(env, key);
}

typedef struct {
  size_t n;
  EC_KEY *key; /* one reference, dropped when done */
  int hash;    /* 256, 384 or 512 */
  unsigned char *bytes;
  size_t *off, *len;
  unsigned char *sigs; /* n slots of ECDSA_size bytes */
  unsigned int *sig_len;
  size_t slot;
  int failed;
  napi_async_work work;
  napi_ref callback;
} sign_batch_t;

static void sign_batch_free(sign_batch_t *b) {
  EC_KEY_free(b->key);
  free(b->bytes);
  free(b->off);
  free(b->len);
  free(b->sigs);
  free(b->sig_len);
  free(b);
}

static void sign_execute(napi_env env, void *data) {
  (void)env;
  sign_batch_t *b = (sign_batch_t *)data;
  unsigned char digest[SHA512_DIGEST_LENGTH];
  for (size_t i = 0; i < b->n && !b->failed; i++) {
    const unsigned char *m = b->bytes + b->off[i];
    size_t digest_len;
    if (b->hash == 384) {
      SHA384(m, b->len[i], digest);
      digest_len = SHA384_DIGEST_LENGTH;
    } else if (b->hash == 512) {
      SHA512(m, b->len[i], digest);
      digest_len = SHA512_DIGEST_LENGTH;
    } else {
      SHA256(m, b->len[i], digest);
      digest_len = SHA256_DIGEST_LENGTH;
    }
    unsigned int out_len = (unsigned int)b->slot;
    if (ECDSA_sign(0, digest, (int)digest_len, b->sigs + i * b->slot, &out_len, b->key) != 1) b->failed = 1;
    b->sig_len[i] = out_len;
  }
}

static void sign_complete(napi_env env, napi_status status, void *data) {
  sign_batch_t *b = (sign_batch_t *)data;
  napi_value cb, global, argv[2], undefined;
  if (napi_get_reference_value(env, b->callback, &cb) == napi_ok && napi_get_global(env, &global) == napi_ok &&
      napi_get_undefined(env, &undefined) == napi_ok) {
    if (status == napi_ok && !b->failed && napi_create_array_with_length(env, b->n, &argv[1]) == napi_ok) {
      int built = 1;
      for (size_t i = 0; i < b->n && built; i++) {
        napi_value buf;
        built = napi_create_buffer_copy(env, b->sig_len[i], b->sigs + i * b->slot, NULL, &buf) == napi_ok &&
                napi_set_element(env, argv[1], (uint32_t)i, buf) == napi_ok;
      }
      if (built) {
        argv[0] = undefined;
        napi_call_function(env, global, cb, 2, argv, NULL);
      }
    } else {
      napi_value msg;
      napi_create_string_utf8(env, status == napi_ok ? "ECDSA signing failed" : "batch signing was cancelled",
                              NAPI_AUTO_LENGTH, &msg);
      napi_create_error(env, NULL, msg, &argv[0]);
      napi_call_function(env, global, cb, 1, argv, NULL);
    }
  }
  napi_delete_reference(env, b->callback);
  napi_delete_async_work(env, b->work);
  sign_batch_free(b);
}

/* signBatch(key, hashBits: 256|384|512, messages: Buffer[], callback(err, signatures: Buffer[])) */
static napi_value sign_batch(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 4) return throw_type(env, "signBatch(key, hashBits, messages, callback)");
  EC_KEY *key = key_of(env, argv[0]);
  if (key == NULL || EC_KEY_get0_private_key(key) == NULL) return throw_type(env, "key must come from createSigningKey");
  int32_t hash = 0;
  if (napi_get_value_int32(env, argv[1], &hash) != napi_ok || (hash != 256 && hash != 384 && hash != 512))
    return throw_type(env, "hashBits must be 256, 384 or 512");
  uint32_t n = 0;
  if (napi_get_array_length(env, argv[2], &n) != napi_ok) return throw_type(env, "messages must be an array");
  napi_valuetype cbt;
  if (napi_typeof(env, argv[3], &cbt) != napi_ok || cbt != napi_function)
    return throw_type(env, "callback must be a function");
  sign_batch_t *b = calloc(1, sizeof *b);
  if (b == NULL) return throw_type(env, "out of memory");
  size_t count = n ? n : 1;
  b->hash = hash;
  b->slot = (size_t)ECDSA_size(key);
  b->off = calloc(count, sizeof(size_t));
  b->len = calloc(count, sizeof(size_t));
  b->sig_len = calloc(count, sizeof(unsigned int));
  b->sigs = malloc(count * b->slot);
  size_t cap = count * 256, used = 0;
  b->bytes = malloc(cap);
  if (!b->off || !b->len || !b->sig_len || !b->sigs || !b->bytes) {
    sign_batch_free(b);
    return throw_type(env, "out of memory");
  }
  for (uint32_t i = 0; i < n; i++) {
    napi_value m;
    void *mp;
    size_t ml;
    if (napi_get_element(env, argv[2], i, &m) != napi_ok || napi_get_buffer_info(env, m, &mp, &ml) != napi_ok) {
      sign_batch_free(b);
      return throw_type(env, "messages must be Buffers");
    }
    if (used + ml > cap) {
      size_t next = (used + ml) * 2;
      unsigned char *grown = realloc(b->bytes, next);
      if (grown == NULL) {
        sign_batch_free(b);
        return throw_type(env, "out of memory");
      }
      b->bytes = grown;
      cap = next;
    }
    memcpy(b->bytes + used, mp, ml);
    b->off[i] = used;
    b->len[i] = ml;
    used += ml;
  }
  b->n = n;
  EC_KEY_up_ref(key);
  b->key = key;
  napi_value name;
  if (napi_create_reference(env, argv[3], 1, &b->callback) != napi_ok ||
      napi_create_string_utf8(env, "sealEcdsaSignBatch", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, sign_execute, sign_complete, b, &b->work) != napi_ok ||
      napi_queue_async_work(env, b->work) != napi_ok) {
    sign_batch_free(b);
    return throw_type(env, "could not queue the batch");
  }
  napi_value undefined;
  CHECK(napi_get_undefined(env, &undefined));
  return undefined;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  if (napi_create_function(env, "createSigningKey", NAPI_AUTO_LENGTH, create_signing_key, NULL, &fn) != napi_ok ||
      napi_set_named_property(env, exports, "createSigningKey", fn) != napi_ok)
    return NULL;
  if (napi_create_function(env, "signBatch", NAPI_AUTO_LENGTH, sign_batch, NULL, &fn) != napi_ok ||
      napi_set_named_property(env, exports, "signBatch", fn) != napi_ok)
    return NULL;
  if (napi_create_function(env, "createKey", NAPI_AUTO_LENGTH, create_key, NULL, &fn) != napi_ok ||
      napi_set_named_property(env, exports, "createKey", fn) != napi_ok)
    return NULL;
  if (napi_create_function(env, "verify", NAPI_AUTO_LENGTH, verify_one, NULL, &fn) != napi_ok ||
      napi_set_named_property(env, exports, "verify", fn) != napi_ok)
    return NULL;
  if (napi_create_function(env, "verifyBatch", NAPI_AUTO_LENGTH, verify_batch, NULL, &fn) != napi_ok ||
      napi_set_named_property(env, exports, "verifyBatch", fn) != napi_ok)
    return NULL;
  return exports;
}
