"""`make package-test`: check the built bundle (dist/mnemo) the way a user meets it.

1. self-check: the bundle loads every engine and bundled model (MNEMO_BUNDLE_SELFCHECK=1);
2. the command line: init, note, search (finds the note), ask (answers from it, citing it),
   status, in a fresh data folder;
3. the desktop app on a virtual display (Xvfb + trayer): time until the first-run window is
   visible, its window class, and a screenshot in build/smoke/first-run.png.
Prints one JSON document; exits non-zero when a step fails.

    .venv/bin/python packaging/smoke_test.py [--bundle dist/mnemo] [--exec "CMD"] [--cli-only]"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIRST_RUN_TITLE = "Welcome to Mnemo"
PASSPHRASE = "smoke test passphrase 42"


def free_display() -> int:
    n = 200 + os.getpid() % 300
    while Path(f"/tmp/.X11-unix/X{n}").exists() or Path(f"/tmp/.X{n}-lock").exists():
        n += 1
    return n


class VirtualDisplay:
    """Xvfb with trayer (a system tray), like a small desktop session."""

    def __init__(self, size: str = "1600x900") -> None:
        self.number = free_display()
        self.size = size
        self.procs: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> VirtualDisplay:
        if shutil.which("Xvfb") is None:
            raise SystemExit("smoke test: Xvfb is missing (apt-get install -y xvfb trayer)")
        self.procs.append(
            subprocess.Popen(
                ["Xvfb", f":{self.number}", "-screen", "0", f"{self.size}x24", "-nolisten", "tcp"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        sock = Path(f"/tmp/.X11-unix/X{self.number}")
        for _ in range(100):
            if sock.exists():
                break
            time.sleep(0.05)
        self.env = dict(os.environ, DISPLAY=f":{self.number}")
        self.env.pop("QT_QPA_PLATFORM", None)
        self.env.pop("WAYLAND_DISPLAY", None)
        if shutil.which("trayer"):
            self.procs.append(
                subprocess.Popen(
                    [
                        "trayer",
                        "--edge",
                        "top",
                        "--align",
                        "right",
                        "--widthtype",
                        "request",
                        "--height",
                        "24",
                    ],
                    env=self.env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
            time.sleep(0.5)
        return self

    def __exit__(self, *exc: object) -> None:
        for p in reversed(self.procs):
            p.terminate()
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()


def find_window(env: dict[str, str], title: str) -> str | None:
    out = subprocess.run(
        ["xdotool", "search", "--onlyvisible", "--name", title],
        env=env,
        capture_output=True,
        text=True,
    )
    ids = out.stdout.split()
    return ids[0] if ids else None


def screenshot(env: dict[str, str], out: Path) -> None:
    code = (
        "import sys, mss\nfrom PIL import Image\n"
        "grabber = mss.MSS() if hasattr(mss, 'MSS') else mss.mss()\n"
        "with grabber as s:\n    shot = s.grab(s.monitors[0])\n"
        "Image.frombytes('RGB', shot.size, shot.rgb).save(sys.argv[1])\n"
    )
    subprocess.run([sys.executable, "-c", code, str(out)], env=env, check=True)


def run_gui(cmd: list[str], env: dict[str, str], shot: Path, timeout: float = 90.0) -> dict:
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    found = None
    try:
        while time.perf_counter() - t0 < timeout and proc.poll() is None:
            found = find_window(env, FIRST_RUN_TITLE)
            if found:
                break
            time.sleep(0.1)
        seconds = time.perf_counter() - t0
        result: dict = {"window_seconds": round(seconds, 2), "window": bool(found)}
        if found:
            time.sleep(1.0)  # let it paint
            if shutil.which("xprop"):
                wm_class = subprocess.run(
                    ["xprop", "-id", found, "WM_CLASS"], env=env, capture_output=True, text=True
                ).stdout.strip()
                result["wm_class"] = wm_class.partition("=")[2].strip()
            screenshot(env, shot)
            result["screenshot"] = str(shot)
            # A second launch must hand over to the first (single instance) and exit.
            second = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
            result["second_instance_exit"] = second.returncode
        else:
            result["exit_code"] = proc.poll()
        return result
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        output = proc.stdout.read().decode("utf-8", "replace") if proc.stdout else ""
        if not found:
            print(output[-4000:], file=sys.stderr)


NOTE = "The spare key for the boat shed is taped under the blue bench"
QUESTION = "Where is the spare key for the boat shed?"


def frozen_cli(exe: Path, data: Path, base_env: dict[str, str]) -> dict:
    """The frozen CLI as a script uses it: init, note, search finds the note, ask answers from
    it (real embedder, real model child process), status counts it. Each step's exit code and
    seconds; the whole is ok only if every step is."""
    env = dict(base_env, MNEMO_PASSPHRASE=PASSPHRASE)
    steps = {
        "init": ["init"],
        "note": ["note", NOTE],
        "search": ["search", "spare key boat shed"],
        "ask": ["ask", QUESTION],
        "status": ["status"],
    }
    cli: dict = {}
    docs: dict[str, dict] = {}
    for name, step in steps.items():
        t0 = time.perf_counter()
        out = subprocess.run(
            [str(exe), "--data-dir", str(data), *step, "--json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        cli[name] = {"exit": out.returncode, "seconds": round(time.perf_counter() - t0, 1)}
        if out.returncode:
            cli[name]["stderr"] = out.stderr[-1500:]
            break
        try:
            docs[name] = json.loads(out.stdout)
        except ValueError:
            cli[name]["stdout"] = out.stdout[-1500:]
            break
    hits = docs.get("search", {}).get("hits", [])
    note_id = docs.get("note", {}).get("id")
    cli["search_found_note"] = bool(hits) and (note_id is None or hits[0].get("id") == note_id)
    answer = docs.get("ask", {})
    cited = [c.get("id") for c in answer.get("citations", [])]
    cli["ask_cited_note"] = bool(cited) and (note_id is None or note_id in cited)
    cli["ask_answered"] = bool(answer.get("answer")) and not answer.get("not_found")
    cli["status_memories"] = docs.get("status", {}).get("memories", {}).get("total")
    cli["ok"] = (
        all(isinstance(v, dict) and v.get("exit") == 0 for k, v in cli.items() if k in steps)
        and len(docs) == len(steps)
        and cli["search_found_note"]
        and cli["ask_cited_note"]
        and cli["ask_answered"]
        and (cli["status_memories"] or 0) >= 1  # the note (ask may add its own turn)
    )
    return cli


def installed_entry(bundle: Path, env: dict[str, str], shot_dir: Path) -> dict:
    """make install-desktop into the temporary HOME, then start Mnemo the way a menu does:
    the entry's Exec line, on a fresh display."""
    sys.path.insert(0, str(ROOT))
    from app.autostart import parse_desktop_exec

    out = subprocess.run(
        ["bash", str(ROOT / "packaging" / "install-desktop.sh")],
        env=dict(env, MNEMO_BUNDLE=str(bundle)),
        capture_output=True,
        text=True,
        timeout=600,
    )
    if out.returncode:
        return {"window": False, "install_stderr": out.stderr[-2000:]}
    entry = Path(env["XDG_DATA_HOME"]) / "applications" / "mnemo.desktop"
    exec_line = next(
        line[len("Exec=") :] for line in entry.read_text().splitlines() if line.startswith("Exec=")
    )
    argv = [a for a in parse_desktop_exec(exec_line) if not a.startswith("%")]
    with VirtualDisplay() as display:
        gui_env = dict(display.env, **{k: env[k] for k in ("HOME", "XDG_CONFIG_HOME")})
        gui_env["XDG_DATA_HOME"] = env["XDG_DATA_HOME"]
        result = run_gui(argv, gui_env, shot_dir / "from-menu-entry.png")
    result["exec"] = exec_line
    return result


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bundle", default=str(ROOT / "dist" / "mnemo"))
    ap.add_argument(
        "--exec",
        help="launch this command line instead of the bundle (e.g. a .desktop entry's Exec)",
    )
    ap.add_argument("--skip-selfcheck", action="store_true")
    ap.add_argument(
        "--cli-only",
        action="store_true",
        help="self-check and the frozen CLI only (no desktop windows): the CI variant",
    )
    ap.add_argument(
        "--skip-install",
        action="store_true",
        help="do not install into a temporary HOME and launch from the menu entry",
    )
    args = ap.parse_args()
    exe = Path(args.bundle) / "mnemo"
    report: dict = {"bundle": str(Path(args.bundle).resolve())}
    if not args.exec and not exe.exists():
        print(f"smoke test: no bundle at {exe}; run make package", file=sys.stderr)
        return 1
    if exe.exists():
        files = [p for p in Path(args.bundle).rglob("*") if p.is_file() and not p.is_symlink()]
        size = sum(p.stat().st_size for p in files)
        report["size_mb"] = round(size / 1e6, 1)
    work = Path(tempfile.mkdtemp(prefix="mnemo-smoke-"))
    ok = True
    try:
        base_env = dict(
            os.environ,
            HOME=str(work / "home"),
            XDG_CONFIG_HOME=str(work / "cfg"),
            XDG_DATA_HOME=str(work / "share"),
        )
        base_env.pop("MNEMO_DATA_DIR", None)
        if exe.exists() and not args.skip_selfcheck:
            t0 = time.perf_counter()
            out = subprocess.run(
                [str(exe)],
                env=dict(base_env, MNEMO_BUNDLE_SELFCHECK="1"),
                capture_output=True,
                text=True,
                timeout=600,
            )
            try:
                check = json.loads(out.stdout[out.stdout.index("{") :])
            except ValueError:
                check = {"ok": False, "stdout": out.stdout[-2000:], "stderr": out.stderr[-2000:]}
            check["seconds"] = round(time.perf_counter() - t0, 1)
            modules = check.pop("modules", [])
            report["selfcheck"] = check
            ok &= bool(check.get("ok"))
            if modules:
                sys.path.insert(0, str(ROOT / "packaging"))
                from audit_bundle import audit

                report["audit"] = audit(Path(args.bundle), modules)  # advisory
        if exe.exists():
            report["cli"] = frozen_cli(exe, work / "cli-data", base_env)
            ok &= report["cli"]["ok"]
        if args.cli_only:
            report["ok"] = bool(ok)
            print(json.dumps(report, indent=1))
            return 0 if ok else 1
        cmd = shlex.split(args.exec) if args.exec else [str(exe)]
        shot_dir = ROOT / "build" / "smoke"
        shot_dir.mkdir(parents=True, exist_ok=True)
        with VirtualDisplay() as display:
            gui = run_gui(
                cmd,
                dict(
                    display.env,
                    **{k: base_env[k] for k in ("HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME")},
                ),
                shot_dir / "first-run.png",
            )
        report["gui"] = gui
        ok &= gui["window"] and gui.get("second_instance_exit") == 0
        if exe.exists() and not args.exec and not args.skip_install:
            report["installed"] = installed_entry(Path(args.bundle), base_env, shot_dir)
            ok &= report["installed"].get("window", False)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report["ok"] = bool(ok)
    print(json.dumps(report, indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
