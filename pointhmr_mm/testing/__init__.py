"""Helpers for tests and benchmarks (as ``mmpose.testing``): stand-in body
models and batches, FLOP and memory readers."""
