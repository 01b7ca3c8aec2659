"""Keep the engines' libraries offline (promise R21): their telemetry and hub look-ups off,
set in the environment before any of them is imported (onnxruntime reads its switch when it is
imported, Hugging Face's libraries when theirs are), and inherited by child processes.

`keep_offline()` is idempotent and cheap; main.py calls it first, models/ocr.py before it imports
onnxruntime. It also removes the event store that onnxruntime's telemetry left in the user's
cache before this was in place (only that folder; see the README, "Offline")."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, MutableMapping
from pathlib import Path

# Forced, not defaulted: a value inherited from the user's shell must not turn a switch back on.
OFFLINE_ENV: Mapping[str, str] = {
    # onnxruntime (RapidOCR): its 1DS telemetry writes an event store under ~/.cache/Microsoft
    # and looks up Microsoft's collector host; this switch is read when onnxruntime is imported.
    "ORT_DISABLE_TELEMETRY": "1",
    # huggingface_hub (via sentence-transformers/transformers): no hub requests, no telemetry.
    "HF_HUB_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_IMPLICIT_TOKEN": "1",
    "HF_HUB_DISABLE_UPDATE_CHECK": "1",
    "HF_DATASETS_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    # transformers would fetch optimised layers from the hub through the `kernels` package.
    "USE_HUB_KERNELS": "NO",
    # The general opt-out that huggingface_hub (and other libraries) honour.
    "DO_NOT_TRACK": "1",
}
# torch, Qt, keyring, llama.cpp, numpy, hnswlib and sqlcipher3 have no telemetry or network use
# on the paths Mnemo takes; the OS-level test (tests/reliability/test_r21_offline_os.py) checks
# the whole process tree, whatever a library does.

# Where onnxruntime's telemetry keeps its device id and pending events, under the cache dir.
ORT_TELEMETRY_DIR = Path("Microsoft") / "DeveloperTools" / ".onnxruntime"

_done = False


def keep_offline(environ: MutableMapping[str, str] | None = None) -> None:
    """Turn every library's network use off in `environ` (default: this process's, then once
    per process also remove onnxruntime's leftover telemetry store)."""
    global _done
    env = os.environ if environ is None else environ
    env.update(OFFLINE_ENV)
    if environ is None and not _done:
        _done = True
        remove_ort_telemetry_store()


def user_cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The cache folder onnxruntime writes to: $XDG_CACHE_HOME, else ~/.cache."""
    env = os.environ if environ is None else environ
    xdg = env.get("XDG_CACHE_HOME")
    return Path(xdg) if xdg else Path(env.get("HOME") or Path.home()) / ".cache"


def remove_ort_telemetry_store(cache_dir: Path | None = None) -> bool:
    """Delete <cache>/Microsoft/DeveloperTools/.onnxruntime (a device id and unsent events, no
    user data), then its two parents only if that left them empty. True if it was there."""
    root = user_cache_dir() if cache_dir is None else cache_dir
    store = root / ORT_TELEMETRY_DIR
    if not store.is_dir() or store.is_symlink():
        return False
    shutil.rmtree(store, ignore_errors=True)
    for parent in (store.parent, store.parent.parent):
        try:
            parent.rmdir()  # only when empty
        except OSError:
            break
    return True
