"""The crash child of R6: a zygote that imports everything once, then forks one worker per
`run SEED` line on stdin (so each of the 50+ kills costs milliseconds, not an interpreter
start). A worker unlocks the store and does, at random: notes, screen captures (an encrypted
screenshot file + its memory), JSONL imports, erases, backups and index snapshot saves,
writing one line to stdout after each one returned (acknowledged). The parent kills it with
SIGKILL at a random moment."""

from __future__ import annotations

import json
import os
import random
import sys
from pathlib import Path

# Imported here, once: Services imports these lazily on unlock, which every worker would
# otherwise pay for again.
import app.assistant
import app.capture_service
import app.erase_service
import app.import_service
import app.memory_service
import app.screen_media
import app.trust_service  # noqa: F401
import core.importers.api  # noqa: F401
from app.services import Services
from core.types import SCREEN, NewMemory
from tests.fakes import FakeEmbedder

PASSPHRASE = "correct horse battery staple"


def say(line: str) -> None:
    os.write(1, (line + "\n").encode())


def work(data: Path, scratch: Path, seed: int) -> None:
    rng = random.Random(seed)
    services = Services(data, embedder=FakeEmbedder(dim=32))
    services.unlock(PASSPHRASE)
    memory, erase, media = services.memory, services.erase, services.media
    assert memory is not None and erase is not None and media is not None
    imports = services.imports
    assert imports is not None
    mine: list[int] = []
    say("ready")
    n = 0
    while True:
        n += 1
        tag = f"s{seed}n{n}"
        op = rng.choices(
            ["note", "capture", "import", "erase", "backup", "snapshot"], [4, 3, 2, 2, 1, 1]
        )[0]
        if op == "note":
            mid = services.add_note(f"note {tag} about the weather")
            mine.append(mid)
            say(f"add {mid} {tag}")
        elif op == "capture":
            mid_media = media.put(f"pixels {tag}".encode(), mime="image/webp", time=n)
            (mid,) = memory.add(
                [
                    NewMemory(
                        kind=SCREEN, text=f"screen {tag}", time=n, app="Term", media_id=mid_media
                    )
                ]
            )
            mine.append(mid)
            say(f"add {mid} {tag}")
        elif op == "import":
            f = scratch / f"{tag}.jsonl"
            lines = [
                {
                    "id": f"{tag}-{i}",
                    "time": "2024-05-01T09:30:00Z",
                    "speaker": "a",
                    "text": f"imported {tag} line {i}",
                }
                for i in range(5)
            ]
            f.write_text("".join(json.dumps(x) + "\n" for x in lines))
            result = imports.import_paths([str(f)], "jsonl", "UTC")
            assert not result.failed, result.failed[0].error
            say(f"imp {tag} 5")
        elif op == "erase" and mine:
            mid = mine.pop(rng.randrange(len(mine)))
            say(f"erasing {mid}")
            erase.erase_ids([mid])
            say(f"erased {mid}")
        elif op == "backup":
            out = scratch / "backups"
            out.mkdir(exist_ok=True)
            info = services.backup(out)
            say(f"backup {info.path}")
        elif op == "snapshot":
            memory.save_index()
            say("saved")


def main() -> None:
    data, scratch = Path(sys.argv[1]), Path(sys.argv[2])
    say("zygote")
    for line in sys.stdin:
        # Reap workers the parent killed.
        try:
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        except ChildProcessError:
            pass
        seed = int(line.split()[1])
        pid = os.fork()
        if pid == 0:
            try:
                work(data, scratch, seed)
            finally:
                os._exit(3)
        say(f"pid {pid}")


if __name__ == "__main__":
    main()
