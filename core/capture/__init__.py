"""Capture policy, pure Python. Per monitor frame, in this order:
change.ChangeDetector.detect -> exclusions.decide (with the windows read before and after the
grab) -> frame.process_frame (blackout, OCR of changed regions with reuse, redaction of text
and pixels, memories per window). Geometry in geometry.Rect; browser domains in context."""
