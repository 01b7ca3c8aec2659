"""Mnemo's domain: pure Python, no Qt, torch or llama_cpp (checked by tests/test_layering.py)."""
