"""R21 at the OS level: the real CLI's capture --once (on Xvfb), import, search, ask (the real
model child process) and backup run in a process tree that cannot reach any network (a new
network namespace, when the machine allows one) under `strace -f`, which records every
connect/send and every file opened for writing, created, renamed or linked by any process in
the tree (C libraries and child processes included, which the in-process socket guard of
tests/conftest.py cannot see). The test fails on any network attempt other than a local
AF_UNIX/netlink socket (a local DNS resolver socket counts as network), and on any file written
outside the data folder, the backup target, the model cache and the temp dir it was given."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.app.conftest import XWindow
from tests.storehelp import cli_env

ROOT = Path(__file__).resolve().parents[2]
MAIN = str(ROOT / "main.py")

TRACED = (
    "connect,sendto,sendmsg,sendmmsg,"
    "open,openat,openat2,creat,truncate,rename,renameat,renameat2,"
    "mkdir,mkdirat,link,linkat,symlink,symlinkat,mknod,mknodat"
)
LOCAL_FAMILIES = ("AF_UNIX", "AF_LOCAL", "AF_NETLINK")
# Name resolution is network too, even when a local daemon would do it: systemd-resolved's
# socket, or glibc reading its resolver files (nscd's socket is also asked for user and group
# names, so it is not counted; a host look-up without nscd reads these files or sends to :53).
RESOLVER_SOCKETS = ("io.systemd.Resolve",)
RESOLVER_FILES = ("/etc/resolv.conf", "/etc/hosts", "/etc/gai.conf", "/etc/host.conf")
WRITE_FLAGS = re.compile(r"\bO_(WRONLY|RDWR|CREAT|TRUNC|APPEND)\b")
CALL = re.compile(r"^(?:\d+\s+)?(\w+)\((.*)\)\s+=\s+(-?\d+|\?)(.*)$")
STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')
DIRFD = re.compile(r"^(?:AT_FDCWD|\d+)<([^>]*)>")


@dataclass
class Trace:
    network: list[str] = field(default_factory=list)
    writes: set[str] = field(default_factory=set)


def _resolve(path: str, base: str) -> str:
    return os.path.normpath(path if path.startswith("/") else os.path.join(base, path))


def parse_trace(files: list[Path], cwd: Path) -> Trace:
    """Network attempts and successfully written paths from `strace -ff -yy` output files."""
    out = Trace()
    for f in files:
        for line in f.read_text(errors="replace").splitlines():
            m = CALL.match(line)
            if not m:
                continue
            name, args, result, rest = m.groups()
            if name in ("connect", "sendto", "sendmsg", "sendmmsg"):
                fam = re.search(r"sa_family=(AF_\w+)", args)
                sock = re.match(r"\d+<(\w+)", args)
                kind = fam.group(1) if fam else (sock.group(1) if sock else "?")
                local = kind in LOCAL_FAMILIES or kind in ("UNIX", "NETLINK")
                if not local or any(s in args for s in RESOLVER_SOCKETS):
                    out.network.append(line[:300])
                continue
            if result in ("?", "-1") or result.startswith("-"):
                continue
            strings = STRING.findall(args)
            if name in ("open", "openat", "openat2"):
                got = re.match(r"<([^>]*)>", rest.strip())
                if got and got.group(1) in RESOLVER_FILES:
                    out.network.append(line[:300])
                if not WRITE_FLAGS.search(args):
                    continue
                if got:
                    out.writes.add(got.group(1))
                    continue
            if not strings:
                continue
            # The path written: the last string (rename/link/symlink: the new name).
            target = strings[-1]
            dirs = [d.group(1) for d in (DIRFD.match(a.strip()) for a in args.split(", ")) if d]
            at = name.endswith("at") or name == "renameat2"
            base = dirs[-1] if dirs and at else str(cwd)
            out.writes.add(_resolve(target.encode().decode("unicode_escape"), base))
    return out


def outside(paths: set[str], allowed: list[Path]) -> list[str]:
    """Paths not under an allowed folder (creating an allowed folder's parents is fine)."""
    roots = [str(p.resolve()) for p in allowed]
    ok = ("/dev/", "/proc/")
    return sorted(
        p
        for p in paths
        if not p.startswith(ok)
        and not any(p == r or p.startswith(r + "/") or r.startswith(p + "/") for r in roots)
    )


@pytest.fixture(scope="module")
def no_network() -> list[str]:
    """`unshare --net` where the machine allows it (a namespace with no interfaces up)."""
    if shutil.which("unshare") and subprocess.run(["unshare", "--net", "true"]).returncode == 0:
        return ["unshare", "--net", "--"]
    return []


def strace_cmd() -> list[str]:
    if shutil.which("strace") is None:
        if os.environ.get("CI"):
            pytest.fail("strace is missing: packaging/setup-env.sh installs it (make setup)")
        pytest.skip("strace is not installed (apt-get install -y strace)")
    return ["strace", "-f", "-qq", "-yy", "-s", "4096", "--seccomp-bpf", "-e", f"trace={TRACED}"]


@pytest.fixture
def window(xvfb: str) -> Iterator[XWindow]:
    w = XWindow(
        xvfb, "Harbour ledger", "640x160+200+200", "white", "", "Lighthouse repairs budget 4200"
    )
    try:
        yield w
    finally:
        w.close()


@pytest.mark.slow
def test_capture_import_search_ask_backup_reach_no_network_and_write_only_where_allowed(
    tmp_path: Path, xvfb: str, window: XWindow, no_network: list[str]
) -> None:
    strace = strace_cmd()
    home, tmp, data, backups = (tmp_path / n for n in ("home", "tmp", "data", "backups"))
    for d in (home, tmp, backups):
        d.mkdir()
    cache = home / ".cache"
    env = dict(
        cli_env(tmp_path),
        DISPLAY=xvfb,
        HOME=str(home),
        XDG_CACHE_HOME=str(cache),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        TMPDIR=str(tmp),
        PYTHONDONTWRITEBYTECODE="1",
    )
    # Not inherited from the developer's shell: the app must turn these off by itself.
    for key in ("ORT_DISABLE_TELEMETRY", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "DO_NOT_TRACK"):
        env.pop(key, None)
    chat = tmp_path / "chat.jsonl"
    chat.write_text(
        json.dumps(
            {
                "id": "m1",
                "time": "2026-03-02T10:00:00Z",
                "speaker": "Ana",
                "text": "The lighthouse keeper's boat is moored at pier nine.",
                "conversation": "harbour",
            }
        )
        + "\n"
    )
    steps = {
        "init": ["init"],
        "capture": ["capture", "--once"],
        "import": ["import", str(chat), "--format", "jsonl"],
        "search": ["search", "lighthouse"],
        "ask": ["ask", "Where is the lighthouse keeper's boat moored?"],
        "backup": ["backup", str(backups)],
    }
    docs: dict[str, dict] = {}
    report: dict[str, Trace] = {}
    for step, args in steps.items():
        prefix = tmp_path / "trace" / step
        prefix.parent.mkdir(exist_ok=True)
        cmd = [*no_network, *strace, "-ff", "-o", str(prefix)]
        cmd += [sys.executable, MAIN, "--data-dir", str(data), *args, "--json"]
        out = subprocess.run(
            cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300
        )
        assert out.returncode == 0, f"{step}: {out.stderr[-3000:]}"
        docs[step] = json.loads(out.stdout)
        report[step] = parse_trace(sorted(prefix.parent.glob(step + ".*")), tmp_path)

    # Every feature worked, offline.
    assert docs["capture"]["memories_added"] >= 1, docs["capture"]
    assert docs["import"], docs["import"]
    hits = docs["search"]["hits"] if isinstance(docs["search"], dict) else docs["search"]
    assert len(hits) >= 2, hits  # the captured window and the imported message
    assert "answer" in docs["ask"] and "citations" in docs["ask"], docs["ask"]
    assert any(p.is_file() for p in backups.iterdir())

    allowed = [data, backups, cache / "Mnemo", tmp]
    problems = {
        step: {"network": t.network, "written_outside": outside(t.writes, allowed)}
        for step, t in report.items()
    }
    assert all(not p["network"] and not p["written_outside"] for p in problems.values()), (
        json.dumps(problems, indent=1)
    )
    # The tracer saw the writes that were allowed (it is not blind).
    assert any(w.startswith(str(data.resolve())) for w in report["capture"].writes)
    assert not (cache / "Microsoft").exists()


def test_the_trace_parser_sees_network_and_writes(tmp_path: Path) -> None:
    """The checks above are only as good as the parser: real strace -yy lines of each kind."""
    lines = [
        "12 connect(5<TCP:[1234]>, {sa_family=AF_INET, sin_port=htons(443), "
        'sin_addr=inet_addr("20.1.2.3")}, 16) = -1 ENETUNREACH (Network is unreachable)',
        '12 sendto(6<UDP:[99]>, "\\x01\\x02", 2, MSG_NOSIGNAL, NULL, 0) = 2',
        '12 connect(7<UNIX-STREAM:[5]>, {sa_family=AF_UNIX, sun_path="/tmp/.X11-unix/X1"}, 20) = 0',
        '12 openat(AT_FDCWD</w>, "/etc/resolv.conf", O_RDONLY|O_CLOEXEC) = 3</etc/resolv.conf>',
        '12 openat(AT_FDCWD</w>, "x.db", O_RDWR|O_CREAT|O_CLOEXEC, 0600) = 4</w/x.db>',
        '12 openat(AT_FDCWD</w>, "/usr/lib/libc.so", O_RDONLY|O_CLOEXEC) = 3</usr/lib/libc.so>',
        '12 openat(AT_FDCWD</w>, "/nope", O_WRONLY|O_CREAT, 0600) = -1 EACCES (Permission denied)',
        '12 renameat2(AT_FDCWD</w>, "a.tmp", 9</w/sub>, "b", RENAME_NOREPLACE) = 0',
        '12 mkdir("rel/dir", 0700) = 0',
    ]
    f = tmp_path / "t.1"
    f.write_text("\n".join(lines) + "\n")
    got = parse_trace([f], Path("/cwd"))
    assert [n.split("(")[0] for n in got.network] == ["12 connect", "12 sendto", "12 openat"]
    assert got.writes == {"/w/x.db", "/w/sub/b", "/cwd/rel/dir"}
    assert outside(got.writes, [Path("/w")]) == ["/cwd/rel/dir"]
