"""Micro-benchmarks for performance-sensitive components."""
