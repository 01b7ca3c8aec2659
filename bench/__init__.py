"""Benchmarks: scripts that print one JSON document each (see BENCHMARKS.md)."""
