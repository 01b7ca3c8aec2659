"""Errors. A `UserFacingError` is the user's environment (its message is written for a person
and says what to do); anything else is a bug and is reported with its traceback."""

from __future__ import annotations


class MnemoError(Exception):
    """Base of every error Mnemo raises on purpose."""


class UserFacingError(MnemoError):
    """A problem the user can act on. `str(err)` is the whole message shown to them."""


class WrongPassphrase(UserFacingError):
    def __init__(self) -> None:
        super().__init__("Wrong passphrase. Nothing was changed; try again.")


class NotInitialised(UserFacingError):
    def __init__(self, data_dir: str) -> None:
        super().__init__(
            f"No Mnemo store in {data_dir}. Create one with 'python main.py init' "
            "or start the app to set a passphrase."
        )


class AlreadyInitialised(UserFacingError):
    def __init__(self, data_dir: str) -> None:
        super().__init__(f"A Mnemo store already exists in {data_dir}; it was left untouched.")


class StoreDamaged(UserFacingError):
    """A file of the store cannot be read. Names the file; the original is never overwritten."""

    def __init__(self, what: str, path: str, detail: str = "") -> None:
        self.path = path
        extra = f" ({detail})" if detail else ""
        super().__init__(
            f"The {what} at {path} is damaged and cannot be read{extra}. It was left untouched; "
            "restore it from a backup, or move the data folder aside to start again."
        )


class StoreTooNew(UserFacingError):
    def __init__(self, found: int, supported: int) -> None:
        super().__init__(
            f"This store was written by a newer version of Mnemo (schema {found}, this version "
            f"understands up to {supported}). It was left untouched; update Mnemo to open it."
        )


class StoreLocked(UserFacingError):
    def __init__(self) -> None:
        super().__init__("Mnemo is locked. Unlock it with your passphrase first.")


class WeakPassphrase(UserFacingError):
    pass


class DiskFull(UserFacingError):
    def __init__(self, path: str) -> None:
        super().__init__(
            f"The disk holding {path} is full. Nothing committed was lost; free some space "
            "and Mnemo will carry on."
        )


class ModelMissing(UserFacingError):
    pass


class BadInput(UserFacingError):
    """Bad user input (an import file, a setting value, a query option)."""
