"""The depth guard in front of ijson: exact outside strings, whatever the chunk boundaries."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.importers.jsonstream import MAX_DEPTH, DepthGuard, TooDeep

tricky_text = st.text(alphabet='[]{}"\\ab\n é', max_size=12)
values = st.recursive(
    st.none() | st.integers() | tricky_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(tricky_text, inner, max_size=3),
    max_leaves=15,
)


def read_all(data: bytes, chunk: int) -> DepthGuard:
    guard = DepthGuard(io.BytesIO(data), TooDeep)
    while guard.read(chunk):
        pass
    return guard


@settings(max_examples=150, deadline=None, derandomize=True)
@given(value=values, chunk=st.integers(1, 9))
def test_strings_with_brackets_quotes_and_escapes_do_not_count(value: Any, chunk: int) -> None:
    data = json.dumps(value, ensure_ascii=False).encode()
    guard = read_all(data, chunk)
    assert guard.depth == 0


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 4096])
def test_depth_past_the_limit_is_refused(chunk: int) -> None:
    ok = b"[" * MAX_DEPTH + b"]" * MAX_DEPTH
    assert read_all(ok, chunk).depth == 0
    deep = b'{"a": "[[[[", "b": ' + b"[" * (MAX_DEPTH + 1)
    with pytest.raises(TooDeep):
        read_all(deep, chunk)
    in_string = b'["' + b"[" * 10_000 + b'\\"' + b"{" * 10_000 + b'"]'
    assert read_all(in_string, chunk).depth == 0
