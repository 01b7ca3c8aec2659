"""What the services built on an unlocked store (the assistant, capture, trust review, window
memories) need from the app: the store and its settings, the memory engine, and a way to
announce changes. `app.services.Services` is the one implementation; the modules below it take
this protocol, so none of them imports the module that creates them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from app.memory_service import MemoryService
    from core.clock import Clock
    from core.media import MediaStore
    from core.settings import Settings
    from core.store import Store


@dataclass(slots=True)
class Changes:
    """What changed, so views refresh only what they show."""

    memories_added: int = 0
    memories_removed: int = 0
    locked: bool | None = None
    settings: list[str] = field(default_factory=list)
    trust: bool = False  # review queue or source trust changed (trust review)
    damaged: str | None = None  # the store was found damaged: read-only from now on
    model: bool = False  # the answer model's state changed (loading, ready, failed, stopped)
    capture: bool = False  # what capture's status shows changed (state, backlog, last read)


class Session(Protocol):
    """The unlocked app as the services under it see it (read-only views of its parts)."""

    @property
    def data_dir(self) -> Path: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def store(self) -> Store: ...

    @property
    def settings(self) -> Settings: ...

    @property
    def memory(self) -> MemoryService | None: ...

    @property
    def media(self) -> MediaStore | None: ...

    @property
    def unlocked(self) -> bool: ...

    def require_unlocked(self) -> None:
        """Raise StoreLocked unless unlocked (R15: locked means locked)."""

    def require_memory(self) -> MemoryService:
        """The memory engine, or StoreLocked."""

    def announce(self, changes: Changes) -> None:
        """Tell every listener (the windows) what changed."""
