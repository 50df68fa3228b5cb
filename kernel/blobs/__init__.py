"""Content-addressed blob store (blake3 + zstd, packs, dedup, GC)."""
