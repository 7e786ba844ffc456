"""Benchmarks against the raw engines (issue 7); see docs/performance.md."""
