"""Capture policy, pure Python: change detection, exclusions, window-title parsing, geometry."""
