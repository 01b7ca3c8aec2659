"""Mnemo: run the desktop app, or a command (see `python main.py --help`)."""

from __future__ import annotations

import os
import signal
import sys


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    from models.offline import keep_offline

    keep_offline()  # before any engine library is imported (R21)
    if argv[:1] == ["--llm-child"]:
        # The model process of a frozen app (models.llm_host.child_command): nothing else is
        # imported, no Qt.
        from models.llm_child import main as llm_child_main

        return llm_child_main()
    os.umask(0o077)  # anything we create is private, even before explicit chmods
    from app.cli import build_parser

    try:
        known, _ = build_parser().parse_known_args(argv)
    except SystemExit:  # a wrong command line: `run` reports it (as JSON with --json)
        from app.cli import run

        return run(argv)
    if getattr(known, "command", None):
        from app.cli import run

        return run(argv)
    if any(a in ("-h", "--help") for a in argv):
        build_parser().print_help()
        return 0
    from ui.gui import run_gui

    code = run_gui(argv)
    # Everything is saved and closed by now (the store, the model process, capture): leave
    # without Python's own finalisation, which spends seconds collecting Qt, torch and
    # onnxruntime objects after the window is gone (Ctrl+Q must end the app within 3 s).
    import logging

    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _entry() -> int:
    try:
        code = main()
        sys.stdout.flush()  # here, not in Python's exit, where a closed pipe is only printed
        return code
    except BrokenPipeError:
        # The reader of our output went away (`mnemo --json search x | head`): whatever the
        # command did is done; say nothing more and leave as a process killed by SIGPIPE
        # would, without a traceback (and without Python's own failed flush at exit).
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 128 + signal.SIGPIPE


if __name__ == "__main__":
    sys.exit(_entry())
