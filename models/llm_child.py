"""The language-model child process: loads a GGUF with llama-cpp-python and answers requests
from `models.llm_host` over JSON lines on stdin/stdout. Run as `python -m models.llm_child`.

Protocol (one JSON object per line, UTF-8):
  host -> child  {"op": "load", "id", "model_path", "n_ctx", "n_threads", "cache_dir"?}
                 {"op": "generate", "id", "messages" | "prompt", "max_tokens", "temperature",
                  "stop"}
                 {"op": "tokenize", "id", "texts"}       -> {"type": "tokens", "counts"}
                 {"op": "cancel", "id"}                   (handled at once by the reader thread)
                 {"op": "shutdown"}
  child -> host  {"type": "hello", "pid"}
                 {"type": "loaded", "id", "load_s", "n_ctx", "model_path"}
                 {"type": "started", "id", "prompt_tokens"}
                 {"type": "token", "id", "text"}
                 {"type": "done", "id", "text_len", "tokens", "prompt_tokens", "first_token_s",
                  "total_s", "tokens_per_s", "finish_reason"}
                 {"type": "cancelled", "id"}
                 {"type": "error", "id", "kind", "message"}
Nothing here logs or echoes prompts or answers except the token stream itself.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import queue
import re
import sys
import threading
import time
from pathlib import Path
from typing import Any, BinaryIO

# Content placeholders rendered into the chat template, so that the template's own text is
# tokenised with special tokens and message contents never are (memory text cannot forge
# role tags like <|im_start|>).
_SLOT = "\ue000{}\ue001"
_SLOT_RE = re.compile("\ue000(\\d+)\ue001")

# ChatML, used when the GGUF carries no chat template of its own (SmolLM2 and many others
# speak it).
_CHATML = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{{ message['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
_ALWAYS_STOP = ["<|im_end|>", "<|endoftext|>", "<|eot_id|>", "</s>", "<end_of_turn>", "<|end|>"]

# Templates by architecture, for a GGUF that carries none of its own (llama.cpp reads the
# model's own one from its metadata, tokenizer.chat_template, which always wins).
_GEMMA = (
    "{{ bos_token }}{% for message in messages %}"
    "{% set role = 'model' if message['role'] == 'assistant' else 'user' %}"
    "{% if message['role'] == 'system' %}<start_of_turn>user\n{{ message['content'] }}\n\n"
    "{% else %}{% if not loop.first and messages[loop.index0 - 1]['role'] == 'system' %}"
    "{{ message['content'] }}<end_of_turn>\n{% else %}<start_of_turn>{{ role }}\n"
    "{{ message['content'] }}<end_of_turn>\n{% endif %}{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
)
_LLAMA3 = (
    "{{ bos_token }}{% for message in messages %}<|start_header_id|>{{ message['role'] }}"
    "<|end_header_id|>\n\n{{ message['content'] }}<|eot_id|>{% endfor %}"
    "{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}"
)
_LLAMA2 = (
    "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'system' %}"
    "[INST] <<SYS>>\n{{ message['content'] }}\n<</SYS>>\n\n"
    "{% elif message['role'] == 'user' %}{% if loop.first %}[INST] {% endif %}"
    "{{ message['content'] }} [/INST]{% else %} {{ message['content'] }}{{ eos_token }}"
    "{% if not loop.last %}[INST] {% endif %}{% endif %}{% endfor %}"
)
_MISTRAL = (
    "{{ bos_token }}{% set sys = namespace(text='') %}{% for message in messages %}"
    "{% if message['role'] == 'system' %}{% set sys.text = message['content'] + '\n\n' %}"
    "{% elif message['role'] == 'user' %}[INST] {{ sys.text }}{{ message['content'] }} [/INST]"
    "{% set sys.text = '' %}{% else %}{{ message['content'] }}{{ eos_token }}{% endif %}"
    "{% endfor %}"
)
_PHI3 = (
    "{% for message in messages %}<|{{ message['role'] }}|>\n{{ message['content'] }}<|end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


def fallback_template(metadata: dict[str, str], has_token: Any = lambda _t: False) -> str:
    """The chat template for a GGUF without one of its own, chosen by its architecture (and,
    for Llama, by which special tokens its vocabulary has): Gemma, Llama 3, Llama 2, Mistral,
    Phi-3, else ChatML (Qwen, SmolLM and many others)."""
    arch = str(metadata.get("general.architecture", "")).lower()
    name = " ".join(str(metadata.get(k, "")) for k in ("general.name", "general.basename")).lower()
    if arch.startswith("gemma"):
        return _GEMMA
    if arch.startswith("phi3") or "phi-3" in name or "phi3" in name:
        return _PHI3
    if arch == "llama":
        if has_token("<|start_header_id|>") or "llama-3" in name or "llama 3" in name:
            return _LLAMA3
        if "mistral" in name or "mixtral" in name:
            return _MISTRAL
        if "llama-2" in name or "llama 2" in name:
            return _LLAMA2
    if arch in ("mistral", "mixtral"):
        return _MISTRAL
    return _CHATML


_INSTRUCT = re.compile(r"instruct|chat|\bit\b|-it\b|_it\b|\bsft\b|\bdpo\b|assistant", re.I)


def looks_like_base_model(metadata: dict[str, str], path: str) -> bool:
    """A base (not instruction-tuned) model: no chat template of its own and nothing in its
    name or file name saying instruct/chat/it. Such a model continues text rather than
    answering (Gemma-3-270M base echoes the prompt header)."""
    if metadata.get("tokenizer.chat_template"):
        return False
    words = " ".join(
        [str(metadata.get(k, "")) for k in ("general.name", "general.basename", "general.finetune")]
        + [Path(path).name]
    )
    return not _INSTRUCT.search(words)


class _Protocol:
    """Writes protocol messages to the original stdout; fd 1 itself is sent to stderr so
    nothing printed by llama.cpp or a library can corrupt the stream."""

    def __init__(self) -> None:
        out_fd = os.dup(1)
        os.dup2(2, 1)
        self._out: BinaryIO = os.fdopen(out_fd, "wb", buffering=0)
        self._lock = threading.Lock()

    def send(self, msg: dict[str, Any]) -> None:
        data = (json.dumps(msg) + "\n").encode("utf-8")
        with self._lock:
            self._out.write(data)


class _Cancels:
    """Request ids the host asked to stop; set by the stdin reader thread between tokens."""

    def __init__(self) -> None:
        self._ids: set[str] = set()
        self._lock = threading.Lock()

    def add(self, rid: str) -> None:
        with self._lock:
            self._ids.add(rid)

    def pop(self, rid: str) -> bool:
        with self._lock:
            if rid in self._ids:
                self._ids.discard(rid)
                return True
            return False

    def __contains__(self, rid: object) -> bool:
        with self._lock:
            return rid in self._ids


def _read_commands(cmds: queue.Queue[dict[str, Any] | None], cancels: _Cancels) -> None:
    for raw in sys.stdin.buffer:
        try:
            msg = json.loads(raw)
        except ValueError:
            continue
        if msg.get("op") == "cancel":
            cancels.add(str(msg.get("id")))
        else:
            cmds.put(msg)
    # The host closed our stdin (it exited or dropped us): stop at once, even mid-generation.
    os._exit(0)


def _die_with_parent() -> None:
    """On Linux, ask the kernel to kill us if the host dies without closing the pipe."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):
        pass


class _Model:
    def __init__(self, llm: Any, path: str) -> None:
        self.llm = llm
        self.path = path
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        meta = {str(k): str(v) for k, v in (llm.metadata or {}).items()}
        self.own_template = bool(meta.get("tokenizer.chat_template"))
        self.base_model = looks_like_base_model(meta, path)
        self.architecture = meta.get("general.architecture", "")
        template = meta.get("tokenizer.chat_template") or fallback_template(
            meta, lambda t: self._has_token(t)
        )
        eos_id = llm.token_eos()
        bos_id = llm.token_bos()
        self.eos_text = llm._model.token_get_text(eos_id) if eos_id != -1 else ""
        bos_text = llm._model.token_get_text(bos_id) if bos_id != -1 else ""
        try:
            self.formatter = Jinja2ChatFormatter(template, self.eos_text, bos_text)
        except Exception:  # a template jinja cannot compile: fall back to ChatML
            self.formatter = Jinja2ChatFormatter(_CHATML, self.eos_text, bos_text)

    def _has_token(self, text: str) -> bool:
        try:
            return len(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)) == 1
        except Exception:
            return False

    def chat_tokens(self, messages: list[dict[str, str]]) -> list[int]:
        slotted = [{"role": m["role"], "content": _SLOT.format(i)} for i, m in enumerate(messages)]
        rendered = self.formatter(messages=slotted).prompt  # type: ignore[arg-type]
        tokens: list[int] = []
        pos = 0
        for match in _SLOT_RE.finditer(rendered):
            tokens += self._tok(rendered[pos : match.start()], special=True)
            tokens += self._tok(messages[int(match.group(1))]["content"], special=False)
            pos = match.end()
        tokens += self._tok(rendered[pos:], special=True)
        return tokens

    def _tok(self, text: str, *, special: bool) -> list[int]:
        if not text:
            return []
        return list(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=special))

    def stops(self, extra: list[str]) -> list[str]:
        out = [s for s in [*extra, *_ALWAYS_STOP, self.eos_text] if s]
        return list(dict.fromkeys(out))


def _load(msg: dict[str, Any], current: _Model | None) -> _Model:
    path = str(msg["model_path"])
    n_threads = msg.get("n_threads") or None
    options: dict[str, Any] = {
        "n_ctx": int(msg.get("n_ctx") or 2048),
        "n_threads": n_threads,
        "n_threads_batch": n_threads,
    }
    cache_dir = msg.get("cache_dir")
    llm = _fast_copy_llm(path, str(cache_dir), options) if cache_dir else None
    if llm is None:
        llm = _open(path, options)
    model = _Model(llm, path)
    _warm_up(model)
    if current is not None:
        # The new model loaded: only now let the previous one go.
        current.llm.close()
    return model


def _open(path: str, options: dict[str, Any]) -> Any:
    from llama_cpp import Llama

    try:
        # Flash attention: the same answers (greedy output compared) for ~9% less CPU in
        # prompt evaluation, measured on the bundled model.
        return Llama(model_path=path, flash_attn=True, verbose=False, **options)
    except ValueError:  # a model/backend llama.cpp cannot run with it
        return Llama(model_path=path, verbose=False, **options)


# Weight types llama.cpp's fast CPU matrix kernels (tinyBLAS) do not cover: prompt
# evaluation falls back to generic dot products. For the bundled Q4_1 model, 435 prompt tokens
# cost 2.8 CPU-s; its F16 copy takes 1.4 with flash attention (Q8_0 would take 1.15, but
# re-rounds the weights: perplexity 64.9 against 64.6 for Q4_1 and 64.3 for F16, and it
# changed the answer of tests/e2e/test_chat_answer.py to "not found" where F16 and Q4_1 agree).
_SLOW_FILE_TYPES = {"3"}  # LLAMA_FTYPE_MOSTLY_Q4_1
_FAST_COPY_TYPE = "F16"
# Bigger sources are loaded as they are: their copy (3.5x the size) would cost too much disk
# and load time.
_FAST_COPY_MAX_BYTES = 512 << 20


def fast_copy_path(path: str, cache_dir: str) -> Path:
    """Where the F16 copy of `path` lives: named after the source's path, size and mtime, so
    a changed or replaced model file gets a new copy."""
    st = os.stat(path)
    key = f"{os.path.realpath(path)}\0{st.st_size}\0{st.st_mtime_ns}".encode()
    digest = hashlib.sha256(key).hexdigest()[:16]
    return Path(cache_dir) / f"{Path(path).stem}-{digest}.{_FAST_COPY_TYPE}.gguf"


def _fast_copy_llm(path: str, cache_dir: str, options: dict[str, Any]) -> Any | None:
    """The model loaded from its F16 copy in `cache_dir` when its own weight type is slow on
    CPU, making the copy (once, ~1 s for the bundled model) if needed; None when the source
    should be loaded as it is. F16 holds the 4-bit weights' values (scale * q + min) to within
    fp16 rounding, so the model answers as before. Any failure falls back to the source."""
    try:
        copy = fast_copy_path(path, cache_dir)
        if os.path.getsize(path) > _FAST_COPY_MAX_BYTES:
            return None
    except OSError:
        return None
    if copy.exists():
        try:
            return _open(str(copy), options)
        except Exception:  # a damaged copy: remove it and make it again below
            _remove(copy)
    source = _open(path, options)
    if str(source.metadata.get("general.file_type")) not in _SLOW_FILE_TYPES:
        return source
    try:
        _quantize(path, copy)
        llm = _open(str(copy), options)
    except Exception:
        _remove(copy)
        return source
    source.close()
    return llm


def _quantize(src: str, dest: Path) -> None:
    import ctypes

    import llama_cpp

    dest.parent.mkdir(parents=True, exist_ok=True)
    for stale in dest.parent.glob(f".{dest.name}.*.part"):
        # Left by a model process killed while writing (a live one finishes within minutes).
        if time.time() - stale.stat().st_mtime > 600:
            _remove(stale)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.part")
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = llama_cpp.LLAMA_FTYPE_MOSTLY_F16
    params.allow_requantize = True
    params.nthread = os.cpu_count() or 1
    try:
        rc = llama_cpp.llama_model_quantize(src.encode(), str(tmp).encode(), ctypes.byref(params))
        if rc != 0:
            raise RuntimeError(f"re-encoding the model failed (code {rc})")
        os.replace(tmp, dest)  # readers never see a half-written copy
    finally:
        _remove(tmp)
    # Copies of an earlier version of this file (an updated model package) are not needed.
    stem = dest.name.rsplit("-", 1)[0]
    for old in dest.parent.glob(f"{glob.escape(stem)}-*.{_FAST_COPY_TYPE}.gguf"):
        if old != dest and old.name.rsplit("-", 1)[0] == stem:
            _remove(old)


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


def _warm_up(model: _Model) -> None:
    """One tiny decode at load time, so the first question does not pay for first-use costs
    (weights paged in from the mmap, compute buffers allocated). It starts with the answer
    prompt's system message and is left in the KV cache: llama-cpp-python reuses the longest
    common token prefix of the previous prompt, so even the first question skips evaluating
    the system message."""
    from core.prompting import SYSTEM_PROMPT

    messages = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": "Hi"}]
    stream = model.llm.create_completion(
        prompt=model.chat_tokens(messages), max_tokens=1, stream=True
    )
    for _ in stream:
        pass


def _generate(msg: dict[str, Any], model: _Model, proto: _Protocol, cancels: _Cancels) -> None:
    rid = str(msg["id"])
    t0 = time.perf_counter()
    if msg.get("messages") is not None:
        prompt: Any = model.chat_tokens(list(msg["messages"]))
    else:
        prompt = model._tok(str(msg.get("prompt") or ""), special=True)
    n_prompt = len(prompt)
    n_ctx = model.llm.n_ctx()
    max_tokens = int(msg.get("max_tokens") or 256)
    if n_prompt >= n_ctx:
        proto.send(
            {
                "type": "error",
                "id": rid,
                "kind": "context",
                "message": f"The prompt has {n_prompt} tokens; the model's context is {n_ctx}.",
            }
        )
        return
    max_tokens = min(max_tokens, n_ctx - n_prompt)
    proto.send({"type": "started", "id": rid, "prompt_tokens": n_prompt})
    stream = model.llm.create_completion(
        prompt=prompt,
        max_tokens=max_tokens,
        temperature=float(msg.get("temperature", 0.2)),
        repeat_penalty=float(msg.get("repeat_penalty", 1.1)),
        stop=model.stops(list(msg.get("stop") or [])),
        stream=True,
    )
    first: float | None = None
    n_tokens = 0
    text_len = 0
    finish = None
    try:
        for chunk in stream:
            if rid in cancels:
                break
            choice = chunk["choices"][0]
            text = choice.get("text") or ""
            finish = choice.get("finish_reason") or finish
            n_tokens += 1
            if text:
                if first is None:
                    first = time.perf_counter() - t0
                text_len += len(text)
                proto.send({"type": "token", "id": rid, "text": text})
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()
    if cancels.pop(rid):
        proto.send({"type": "cancelled", "id": rid})
        return
    total = time.perf_counter() - t0
    gen_time = total - (first or total)
    proto.send(
        {
            "type": "done",
            "id": rid,
            "text_len": text_len,
            "tokens": n_tokens,
            "prompt_tokens": n_prompt,
            "first_token_s": round(first if first is not None else total, 4),
            "total_s": round(total, 4),
            "tokens_per_s": round((n_tokens - 1) / gen_time, 2)
            if n_tokens > 1 and gen_time > 0
            else 0.0,
            "finish_reason": finish or "stop",
        }
    )


def main() -> int:
    proto = _Protocol()
    _die_with_parent()
    cancels = _Cancels()
    cmds: queue.Queue[dict[str, Any] | None] = queue.Queue()
    threading.Thread(
        target=_read_commands, args=(cmds, cancels), name="llm-child-stdin", daemon=True
    ).start()
    proto.send({"type": "hello", "pid": os.getpid()})
    model: _Model | None = None
    while True:
        msg = cmds.get()
        if msg is None or msg.get("op") == "shutdown":
            break
        op = msg.get("op")
        rid = str(msg.get("id"))
        try:
            if op == "load":
                t0 = time.perf_counter()
                model = _load(msg, model)
                proto.send(
                    {
                        "type": "loaded",
                        "id": rid,
                        "load_s": round(time.perf_counter() - t0, 4),
                        "n_ctx": model.llm.n_ctx(),
                        "model_path": model.path,
                        "own_template": model.own_template,
                        "base_model": model.base_model,
                        "architecture": model.architecture,
                    }
                )
            elif op == "generate":
                if model is None:
                    raise RuntimeError("no model loaded")
                if cancels.pop(rid):
                    proto.send({"type": "cancelled", "id": rid})
                    continue
                _generate(msg, model, proto, cancels)
            elif op == "tokenize":
                if model is None:
                    raise RuntimeError("no model loaded")
                counts = [len(model._tok(str(t), special=False)) for t in msg.get("texts", [])]
                proto.send({"type": "tokens", "id": rid, "counts": counts})
            else:
                raise ValueError(f"unknown operation {op!r}")
        except Exception as exc:  # reported to the host; the child stays up
            # Messages from llama.cpp name files and sizes, never prompt text.
            proto.send(
                {"type": "error", "id": rid, "kind": type(exc).__name__, "message": str(exc)}
            )
    if model is not None:
        model.llm.close()
    # Exit without interpreter teardown: the stdin reader thread may still hold its lock.
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
