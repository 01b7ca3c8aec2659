"""Errors. A `UserFacingError` is the user's environment (its message is written for a person
and says what to do); anything else is a bug and is reported with its traceback.

Every error class carries a stable `code` (a short word) and the CLI's exit status for it:
`ERROR_CODES` below is the one table the CLI, its `--json` documents and the MCP server share.
Codes and exit statuses never change meaning; new classes get new numbers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ErrorCode:
    code: str  # in `{"error": {"code": …}}`
    exit: int  # the CLI's exit status
    meaning: str  # for the documentation table


# The table (also in README.md "Command line"). Exit 2 is argparse's own for a wrong command
# line, so bad input shares it; 70 (EX_SOFTWARE) is a bug; 130 is Ctrl-C.
ERROR_CODES: dict[str, ErrorCode] = {
    c.code: c
    for c in (
        ErrorCode("error", 1, "any other problem the message explains"),
        ErrorCode("bad_input", 2, "a wrong option, query, setting or import file"),
        ErrorCode("wrong_passphrase", 3, "the passphrase does not open the key file"),
        ErrorCode("locked", 4, "the store is locked, or no passphrase was given"),
        ErrorCode("not_initialised", 5, "no store in the data folder (run init)"),
        ErrorCode("not_found", 6, "the memory, file or folder named does not exist"),
        ErrorCode("damaged", 7, "a file of the store is damaged; it is only read, never written"),
        ErrorCode("too_new", 8, "the store was made by a newer Mnemo"),
        ErrorCode("disk_full", 9, "the disk is full; nothing committed was lost"),
        ErrorCode("model_missing", 10, "a model file or engine is not available"),
        ErrorCode("already_initialised", 11, "a store already exists there"),
        ErrorCode("weak_passphrase", 12, "the new passphrase is too easy to guess"),
        ErrorCode("unavailable", 13, "a device or service is unavailable (screen, keyring…)"),
        ErrorCode("partial", 14, "some of the work failed (e.g. files of an import); see the doc"),
        ErrorCode("internal", 70, "a bug: details are in the log"),
        ErrorCode("interrupted", 130, "stopped with Ctrl-C"),
    )
}


def error_code(err: BaseException) -> ErrorCode:
    """The table row for an exception (a bug when it is not a MnemoError)."""
    if isinstance(err, KeyboardInterrupt):
        return ERROR_CODES["interrupted"]
    if isinstance(err, MnemoError):
        return ERROR_CODES[err.code]
    return ERROR_CODES["internal"]


class MnemoError(Exception):
    """Base of every error Mnemo raises on purpose."""

    code = "error"


class UserFacingError(MnemoError):
    """A problem the user can act on. `str(err)` is the whole message shown to them."""

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "message": str(self), "exit": ERROR_CODES[self.code].exit}


class WrongPassphrase(UserFacingError):
    code = "wrong_passphrase"

    def __init__(self) -> None:
        super().__init__("Wrong passphrase. Nothing was changed; try again.")


class NotInitialised(UserFacingError):
    code = "not_initialised"

    def __init__(self, data_dir: str) -> None:
        super().__init__(
            f"No Mnemo store in {data_dir}. Create one with 'python main.py init' "
            "or start the app to set a passphrase."
        )


class AlreadyInitialised(UserFacingError):
    code = "already_initialised"

    def __init__(self, data_dir: str) -> None:
        super().__init__(f"A Mnemo store already exists in {data_dir}; it was left untouched.")


class StoreDamaged(UserFacingError):
    """A file of the store cannot be read. Names the file; the original is never overwritten."""

    code = "damaged"

    def __init__(self, what: str, path: str, detail: str = "") -> None:
        self.what = what
        self.path = path
        self.detail = detail
        extra = f" ({detail})" if detail else ""
        super().__init__(
            f"The {what} at {path} is damaged and cannot be read{extra}. It was left untouched; "
            "restore it from a backup, or move the data folder aside to start again."
        )


class StoreReadOnly(StoreDamaged):
    """A write refused because the database was found damaged: it is opened read-only so the
    user can still search it and copy what they need, and nothing more is written to it."""

    def __init__(self, damage: StoreDamaged) -> None:
        UserFacingError.__init__(
            self,
            f"Nothing was saved: the {damage.what} at {damage.path} is damaged "
            f"({damage.detail or 'see status'}), so Mnemo only reads it and writes nothing to "
            "it. Back up the data folder as it is, then restore a backup with "
            "'python main.py restore'.",
        )
        self.what, self.path, self.detail = damage.what, damage.path, damage.detail


class StoreTooNew(UserFacingError):
    code = "too_new"

    def __init__(self, found: int, supported: int) -> None:
        super().__init__(
            f"This store was written by a newer version of Mnemo (schema {found}, this version "
            f"understands up to {supported}). It was left untouched; update Mnemo to open it."
        )


class StoreLocked(UserFacingError):
    code = "locked"

    def __init__(self, message: str = "") -> None:
        super().__init__(message or "Mnemo is locked. Unlock it with your passphrase first.")


class WeakPassphrase(UserFacingError):
    code = "weak_passphrase"


class DiskFull(UserFacingError):
    code = "disk_full"

    def __init__(self, path: str) -> None:
        super().__init__(
            f"The disk holding {path} is full. Nothing committed was lost; free some space "
            "and Mnemo will carry on."
        )


class ModelMissing(UserFacingError):
    code = "model_missing"


class BadInput(UserFacingError):
    """Bad user input (an import file, a setting value, a query option)."""

    code = "bad_input"


class NotFound(UserFacingError):
    """A memory, file or folder the user named does not exist."""

    code = "not_found"


class Unavailable(UserFacingError):
    """A device or service Mnemo needs is not there (the screen, the keyring, autostart)."""

    code = "unavailable"


class PartialFailure(UserFacingError):
    """Part of the work was done and part failed; `report` is the whole result (printed as the
    JSON document, with the error beside it)."""

    code = "partial"

    def __init__(self, message: str, report: dict[str, Any], code: str = "partial") -> None:
        super().__init__(message)
        self.report = report
        self.code = code

    @classmethod
    def of(cls, err: UserFacingError, report: dict[str, Any]) -> PartialFailure:
        """`err` (its message and code), reported with `report` beside it."""
        return cls(str(err), report, err.code)
