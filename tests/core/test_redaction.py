"""Redaction of secrets (R19): the fixture cases, toggles, and OCR boxes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.capture.geometry import Rect
from core.interfaces import OcrBox
from core.redaction import (
    CATEGORIES,
    RedactionSettings,
    find_secrets,
    marker,
    redact,
    redact_boxes,
)

CASES = [
    json.loads(line)
    for line in (Path(__file__).parent.parent / "fixtures/redaction/cases.jsonl")
    .read_text(encoding="utf-8")
    .splitlines()
    if line.strip()
]


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_fixture_case(case: dict) -> None:
    out = redact(case["text"])
    for secret in case["secrets"]:
        assert secret not in out.text
    for kept in case["keep"]:
        assert kept in out.text
    assert out.counts == case["counts"]
    if not case["counts"]:
        assert out.text == case["text"]
        assert out.spans == []
    for category in case["counts"]:
        assert marker(category) in out.text


def test_fixture_covers_every_category_and_prose() -> None:
    seen = {c for case in CASES for c in case["counts"]}
    assert seen == set(CATEGORIES)
    assert sum(1 for c in CASES if not c["counts"]) >= 10


@pytest.mark.parametrize("category", CATEGORIES)
def test_each_category_can_be_turned_off(category: str) -> None:
    settings = RedactionSettings(**{category: False})
    for case in CASES:
        if set(case["counts"]) == {category}:
            assert redact(case["text"], settings).text == case["text"], case["id"]
    # The other categories still work with this one off.
    others = [c for c in CASES if c["counts"] and category not in c["counts"]]
    assert all(redact(c["text"], settings).counts == c["counts"] for c in others)


def test_spans_point_into_the_original_text() -> None:
    text = "a 4111 1111 1111 1111 b AKIAIOSFODNN7EXAMPLE c"
    spans = find_secrets(text)
    assert [text[s.start : s.end] for s in spans] == ["4111 1111 1111 1111", "AKIAIOSFODNN7EXAMPLE"]
    assert [s.category for s in spans] == ["card", "api_key"]
    out = redact(text)
    assert out.text == "a [redacted card] b [redacted api key] c"
    assert out.counts == {"card": 1, "api_key": 1}


def test_several_secrets_counted() -> None:
    out = redact("4111111111111111 and 5555555555554444 and DE89370400440532013000")
    assert out.counts == {"card": 2, "iban": 1}


def _box(x: int, y: int, text: str, w: int = 80, h: int = 20) -> OcrBox:
    return OcrBox(x, y, w, h, text, 0.9)


def test_redact_boxes_finds_a_secret_split_over_boxes() -> None:
    boxes = [
        _box(10, 10, "Password:"),
        _box(100, 12, "hunter2"),
        _box(10, 50, "Card"),
        _box(60, 50, "4111"),
        _box(110, 50, "1111"),
        _box(160, 50, "1111"),
        _box(210, 50, "1111"),
        _box(10, 90, "Welcome back, Alice"),
    ]
    out, rects, counts = redact_boxes(boxes)
    assert counts == {"password": 1, "card": 1}
    assert set(rects) == {
        Rect(100, 12, 80, 20),
        Rect(60, 50, 80, 20),
        Rect(110, 50, 80, 20),
        Rect(160, 50, 80, 20),
        Rect(210, 50, 80, 20),
    }
    texts = [b.text for b in out]
    assert "Password:" in texts and "Card" in texts and "Welcome back, Alice" in texts
    assert texts.count(marker("card")) == 1 and texts.count(marker("password")) == 1
    joined = " ".join(texts)
    assert "hunter2" not in joined and "1111" not in joined


def test_redact_boxes_keeps_columns_apart() -> None:
    # "Password: x" in the left column must not swallow the far-away right column.
    boxes = [_box(10, 10, "Password: swordfish", w=150), _box(900, 10, "Inbox (3)")]
    out, rects, _ = redact_boxes(boxes)
    assert rects == [Rect(10, 10, 150, 20)]
    assert [b.text for b in out] == ["Password: [redacted password]", "Inbox (3)"]


def test_redact_boxes_without_secrets_is_identity() -> None:
    boxes = [_box(0, 0, "Order 1234567890123456"), _box(0, 40, "Call 555-123-4567")]
    out, rects, counts = redact_boxes(boxes)
    assert [(b.x, b.y, b.text) for b in out] == [(0, 0, boxes[0].text), (0, 40, boxes[1].text)]
    assert rects == [] and counts == {}


def test_redaction_of_the_disabled_category_in_boxes() -> None:
    boxes = [_box(0, 0, "AKIAIOSFODNN7EXAMPLE", w=200)]
    assert redact_boxes(boxes, RedactionSettings(api_key=False)).rects == []
    assert redact_boxes(boxes).rects == [Rect(0, 0, 200, 20)]


def test_settings_from_the_settings_store_keys() -> None:
    values = {
        "privacy.redact_cards": True,
        "privacy.redact_ibans": False,
        "privacy.redact_national_ids": True,
        "privacy.redact_api_keys": True,
        "privacy.redact_private_keys": True,
        "privacy.redact_passwords": False,
    }
    settings = RedactionSettings.from_settings(values.__getitem__)
    assert settings.enabled() == ("card", "national_id", "api_key", "private_key")
