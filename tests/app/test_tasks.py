"""The op layer: results, errors, progress and streamed items reach the GUI thread through
queued signals; owner-gone and cancelled ops run no callback; newest wins per key."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from PySide6.QtWidgets import QWidget

from app.tasks import Lane, OpContext, TaskRunner
from core.errors import BadInput


@pytest.fixture
def runner(qtbot: Any) -> TaskRunner:
    r = TaskRunner()
    yield r
    r.cancel_all()
    r.wait(5_000)


def test_result_and_callbacks_run_on_the_gui_thread(qtbot: Any, runner: TaskRunner) -> None:
    gui = threading.get_ident()
    seen: dict[str, Any] = {}

    def work(ctx: OpContext) -> int:
        seen["worker"] = threading.get_ident()
        return 42

    def done(value: int) -> None:
        seen["done"] = (value, threading.get_ident())

    runner.op(work, done)
    qtbot.waitUntil(lambda: "done" in seen, timeout=5_000)
    assert seen["done"] == (42, gui)
    assert seen["worker"] != gui


@pytest.mark.logs_warnings  # the bug is logged
def test_user_errors_and_bugs_go_to_their_signals(qtbot: Any, runner: TaskRunner) -> None:
    users: list[str] = []
    bugs: list[str] = []
    runner.user_error.connect(users.append)
    runner.bug.connect(bugs.append)

    def wrong() -> None:
        raise BadInput("Say it differently.")

    def broken() -> None:
        raise ZeroDivisionError("boom")

    runner.run(wrong)
    runner.run(broken)
    qtbot.waitUntil(lambda: bool(users and bugs), timeout=5_000)
    assert users == ["Say it differently."]
    assert "ZeroDivisionError" in bugs[0]


@pytest.mark.logs_warnings  # the bug is logged
def test_a_bug_reaches_the_crash_dialog_even_when_the_caller_handles_errors(
    qtbot: Any, runner: TaskRunner
) -> None:
    """Callers that pass on_error used to swallow bugs: the widget said "Failed." and nothing
    reached the crash dialog. Now the caller's handler runs and the bug is reported too; a
    user-facing error is only the caller's."""
    from app.tasks import user_message

    bugs: list[str] = []
    users: list[str] = []
    handled: list[str] = []
    runner.bug.connect(bugs.append)
    runner.user_error.connect(users.append)

    def wrong() -> None:
        raise BadInput("Say it differently.")

    def broken() -> None:
        raise ZeroDivisionError("boom")

    runner.run(wrong, None, lambda e: handled.append(user_message(e, "Failed.")))
    runner.run(broken, None, lambda e: handled.append(user_message(e, "Failed.")))
    qtbot.waitUntil(lambda: len(handled) == 2 and bool(bugs), timeout=5_000)
    assert sorted(handled) == ["Failed.", "Say it differently."]
    assert len(bugs) == 1 and "ZeroDivisionError" in bugs[0]
    assert users == []


def test_streamed_items_arrive_in_order_batched_before_done(qtbot: Any, runner: TaskRunner) -> None:
    got: list[int] = []
    batches: list[int] = []
    ended: list[int] = []

    def work(ctx: OpContext) -> int:
        for i in range(500):
            ctx.emit(i)
        return 500

    def on_item(items: list[int]) -> None:
        batches.append(len(items))
        got.extend(items)

    def done(n: int) -> None:
        ended.append(len(got))

    runner.op(work, done, on_item=on_item, lane=Lane.MODEL)
    qtbot.waitUntil(lambda: bool(ended), timeout=5_000)
    assert got == list(range(500))
    assert ended == [500]  # every item was delivered before on_done
    assert len(batches) < 500  # one signal pending at a time, not one per item


def test_progress_reaches_the_gui(qtbot: Any, runner: TaskRunner) -> None:
    steps: list[tuple[float, str]] = []
    finished: list[bool] = []

    def work(ctx: OpContext) -> None:
        for i in range(1, 4):
            ctx.progress(i / 3, f"step {i}")

    runner.op(work, lambda _r: finished.append(True), on_progress=lambda f, t: steps.append((f, t)))
    qtbot.waitUntil(lambda: bool(finished), timeout=5_000)
    assert [t for _f, t in steps] == ["step 1", "step 2", "step 3"]
    assert steps[-1][0] == pytest.approx(1.0)


def test_no_callback_once_the_owner_is_gone(qtbot: Any, runner: TaskRunner) -> None:
    owner = QWidget()
    release = threading.Event()
    calls: list[str] = []

    def work(ctx: OpContext) -> int:
        release.wait(5)
        return 1

    op = runner.op(work, lambda _r: calls.append("done"), owner=owner)
    owner.deleteLater()
    qtbot.waitUntil(lambda: not _alive(owner), timeout=5_000)
    release.set()
    qtbot.waitUntil(lambda: op.finished, timeout=5_000)
    assert calls == []


def test_cancel_drops_the_result_and_work_sees_it(qtbot: Any, runner: TaskRunner) -> None:
    started = threading.Event()
    saw_cancel: list[bool] = []
    calls: list[str] = []

    def work(ctx: OpContext) -> None:
        started.set()
        deadline = time.monotonic() + 5
        while not ctx.cancelled() and time.monotonic() < deadline:
            time.sleep(0.01)
        saw_cancel.append(ctx.cancelled())
        ctx.check()

    op = runner.op(work, lambda _r: calls.append("done"), lambda _e: calls.append("error"))
    assert started.wait(5)
    op.cancel()
    qtbot.waitUntil(lambda: op.finished, timeout=5_000)
    assert saw_cancel == [True]
    assert calls == []


def test_newest_wins_per_key(qtbot: Any, runner: TaskRunner) -> None:
    """Two requests while a first one runs: the first is cancelled, the second never starts,
    the third runs once the first returns; only its answer is delivered."""
    gate = threading.Event()
    ran: list[str] = []
    answers: list[str] = []

    def make(name: str) -> Any:
        def work(ctx: OpContext) -> str:
            ran.append(name)
            if name == "a":
                gate.wait(5)
            return name

        return work

    runner.op(make("a"), answers.append, key="search")
    qtbot.waitUntil(lambda: ran == ["a"], timeout=5_000)
    for name in "bc":
        runner.op(make(name), answers.append, key="search")
    assert runner.busy("search")
    time.sleep(0.1)
    assert ran == ["a"]  # b and c wait: the engine is not handed a pile of requests
    gate.set()
    qtbot.waitUntil(lambda: answers == ["c"], timeout=5_000)
    qtbot.waitUntil(lambda: not runner.busy("search"), timeout=5_000)
    assert ran == ["a", "c"]


def test_keys_are_per_owner(qtbot: Any, runner: TaskRunner) -> None:
    one, two = QWidget(), QWidget()
    answers: list[str] = []
    runner.op(lambda _c: "one", answers.append, owner=one, key="load")
    runner.op(lambda _c: "two", answers.append, owner=two, key="load")
    qtbot.waitUntil(lambda: len(answers) == 2, timeout=5_000)
    assert sorted(answers) == ["one", "two"]


def test_a_change_from_many_threads_is_never_lost(qtbot: Any, runner: TaskRunner) -> None:
    """Items emitted by several ops at once while the GUI is busy all arrive."""
    got: list[tuple[int, int]] = []
    ended: list[int] = []

    def make(n: int) -> Any:
        def work(ctx: OpContext) -> None:
            for i in range(200):
                ctx.emit((n, i))

        return work

    for n in range(4):
        runner.op(make(n), lambda _r: ended.append(1), on_item=got.extend)
    deadline = time.monotonic() + 0.2
    while time.monotonic() < deadline:  # the GUI thread is busy while the workers emit
        pass
    qtbot.waitUntil(lambda: len(ended) == 4, timeout=10_000)
    assert sorted(got) == sorted((n, i) for n in range(4) for i in range(200))


def _alive(obj: object) -> bool:
    import shiboken6

    return shiboken6.isValid(obj)


@pytest.mark.logs_warnings  # the bug is logged
def test_a_bug_is_reported_even_when_its_owner_is_gone(qtbot: Any, runner: TaskRunner) -> None:
    owner = QWidget()
    release = threading.Event()
    bugs: list[str] = []
    errors: list[BaseException] = []
    runner.bug.connect(bugs.append)

    def work(ctx: OpContext) -> None:
        release.wait(5)
        raise KeyError("lost")

    op = runner.op(work, None, errors.append, owner=owner)
    owner.deleteLater()
    qtbot.waitUntil(lambda: not _alive(owner), timeout=5_000)
    release.set()
    qtbot.waitUntil(lambda: op.finished, timeout=5_000)
    assert errors == []  # the gone widget's callback is not called
    assert bugs and "KeyError" in bugs[0]
