"""The model child outlives the thread that started it (PR_SET_PDEATHSIG is per thread on
Linux): the GUI's task runner and the preload start the model from short-lived threads."""

from __future__ import annotations

import threading
import time

from models.llm_host import LlmHost


def test_child_survives_the_thread_that_started_it() -> None:
    host = LlmHost()
    try:
        t = threading.Thread(target=host.ensure_loaded)
        t.start()
        t.join(120)
        pid = host.child_pid
        assert pid is not None
        time.sleep(0.5)  # a child killed with its parent thread would be gone by now
        assert host.child_pid == pid
        assert host.count_tokens("hello there") > 0
        assert host.child_pid == pid
    finally:
        host.close()
    assert host.child_pid is None
