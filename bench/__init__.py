"""Benchmarks: real-kit quality and speed figures (`make bench`). Not part of the test suite."""
