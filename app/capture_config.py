"""What capture reads from the settings, once per step: interval, monitors, exclusions (failing
closed when they do not parse), redaction, screenshot quality and the backlog cap. Its own
module so that the capture loop and the window memories it feeds share it without importing
each other."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core.capture.exclusions import ExclusionRules
from core.errors import BadInput
from core.redaction import RedactionSettings

# Mnemo's own windows show memories: capturing them would feed memories back in. The process
# names itself this (Linux /proc/self/comm, what the window context reads) and is excluded.
SELF_APP = "mnemo"


@dataclass(slots=True)
class CaptureSettings:
    interval: float
    primary_only: bool
    rules: ExclusionRules | None  # None: the stored exclusions do not parse (fail closed)
    redaction: RedactionSettings
    quality: int
    max_width: int
    keep_screenshots: bool
    backlog_max_bytes: int = 1024 * 1024 * 1024

    @classmethod
    def read(cls, get: Callable[[str], Any]) -> CaptureSettings:
        try:
            rules: ExclusionRules | None = ExclusionRules.from_user(
                [*get("privacy.excluded_apps"), SELF_APP],
                get("privacy.excluded_titles"),
                get("privacy.excluded_domains"),
            )
        except BadInput:
            rules = None
        return cls(
            interval=float(get("capture.interval_s")),
            primary_only=get("capture.monitors") == "primary",
            rules=rules,
            redaction=RedactionSettings.from_settings(get),
            quality=int(get("capture.image_quality")),
            max_width=int(get("capture.image_max_width")),
            keep_screenshots=bool(get("capture.keep_screenshots")),
            backlog_max_bytes=int(get("capture.backlog_max_mb")) * 1024 * 1024,
        )
