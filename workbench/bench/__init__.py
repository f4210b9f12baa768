"""Benchmarks: codec throughput beside reference implementations (they print, never assert)."""
