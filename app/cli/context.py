"""What every CLI command needs: the data folder, the passphrase, and the services."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path

from app import paths
from app.logging_setup import setup_logging
from app.services import Services
from core.errors import BadInput, StoreDamaged, StoreLocked, UserFacingError

ENV_PASSPHRASE = "MNEMO_PASSPHRASE"


class CliContext:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.data_dir: Path = paths.data_dir(args.data_dir)
        self._services: Services | None = None
        self._env_passphrase: str | None = None
        self.notices: list[str] = []
        self._notices_printed = False

    def log_path(self) -> Path:
        return paths.log_dir(self.data_dir) / "mnemo.log"

    def passphrase(self, *, confirm: bool = False, prompt: str = "Passphrase: ") -> str:
        """--passphrase-file, else $MNEMO_PASSPHRASE, else an interactive prompt."""
        if self.args.passphrase_file:
            try:
                with open(self.args.passphrase_file, encoding="utf-8") as f:
                    value = f.readline().rstrip("\r\n")
            except OSError as e:
                raise BadInput(
                    f"Cannot read the passphrase file {self.args.passphrase_file}: {e.strerror}."
                ) from None
            if not value:
                raise BadInput(f"The passphrase file {self.args.passphrase_file} is empty.")
            return value
        # Taken out of the environment once read, so no child process (the model host, a
        # helper) ever inherits it (R14).
        env = os.environ.pop(ENV_PASSPHRASE, None) or self._env_passphrase
        if env:
            self._env_passphrase = env
            return env
        if not sys.stdin.isatty():
            raise StoreLocked(
                "No passphrase given. Use --passphrase-file FILE or set "
                f"{ENV_PASSPHRASE}, or run in a terminal to be asked."
            )
        value = getpass.getpass(prompt)
        if confirm and getpass.getpass("Again: ") != value:
            raise UserFacingError("The two passphrases differ. Nothing was created.")
        return value

    def services(self, *, unlock: bool = True) -> Services:
        if self._services is None:
            if self.data_dir.exists():
                setup_logging(paths.log_dir(self.data_dir), console=self.args.verbose)
            self._services = Services(self.data_dir)
        if unlock and not self._services.unlocked:
            self.unlock(self._services)
        return self._services

    def unlock(self, services: Services) -> None:
        services.unlock(self.passphrase())
        self.notices = services.notices

    def damage(self) -> StoreDamaged | None:
        """The damage the integrity check found, once it is known (every command that opened
        the store waits for it, so no result from a damaged store goes out unlabelled)."""
        services = self._services
        if services is None or not services.unlocked:
            return None
        return services.store.wait_verified()

    def print_notices(self) -> None:
        if not self._notices_printed:
            self._notices_printed = True
            for notice in self.notices:
                print(f"mnemo: {notice}", file=sys.stderr)

    def close(self) -> None:
        if self._services is not None:
            self._services.close()
