{
  "targets": [
    {
      "target_name": "seal_ecdsa_digest",
      "sources": ["ecdsa_digest.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"]
    }
  ]
}
