"""WhatsApp export: layouts, date order, time zones, multi-line, system lines, media, zips."""

from __future__ import annotations

import zipfile
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from core.importers import ImportFileError, parse
from tests.core.importers.helpers import FIXTURES, parse_all

W = FIXTURES / "whatsapp"
ANDROID_US = W / "WhatsApp Chat with Ana María.txt"


def utc(*args: int) -> float:
    return datetime(*args, tzinfo=UTC).timestamp()


def test_android_month_first_12h() -> None:
    msgs, parsed = parse_all(ANDROID_US, tz="UTC")
    assert parsed.format == "whatsapp"
    assert [m.author for m in msgs] == [
        "Ana María",
        "You",
        "Ana María",
        "Ana María",
        "Ana María",
        "Bob",
    ]
    assert {m.conversation for m in msgs} == {"Ana María"}
    assert msgs[0].time == utc(2023, 12, 31, 21, 41)
    assert msgs[1].text == "Same to you!\nSee you tomorrow\nat the café"
    assert msgs[3].time == utc(2024, 1, 1, 0, 0)  # 12:00 AM is midnight
    assert msgs[5].text == "Edited text"
    assert parsed.skipped == {"system line": 2, "media placeholder": 1, "deleted message": 1}
    assert parsed.rejected == []


def test_identical_repeated_messages_get_distinct_stable_ids() -> None:
    first = [m.external_id for m in parse_all(ANDROID_US, tz="UTC")[0]]
    again = [m.external_id for m in parse_all(ANDROID_US, tz="UTC")[0]]
    assert first == again
    assert len(set(first)) == len(first)  # the two "Happy new year!" at 00:00 differ


def test_time_zone_is_applied_with_dst() -> None:
    ny = parse_all(ANDROID_US, tz="America/New_York")[0]
    assert ny[0].time == utc(2024, 1, 1, 2, 41)  # 21:41 EST
    summer = W / "chat_ambiguous.txt"  # 3 April 2024, 10:00 day-first
    paris = parse_all(summer, tz=ZoneInfo("Europe/Paris"))[0]
    assert paris[0].time == utc(2024, 4, 3, 8, 0)  # CEST is UTC+2


def test_default_zone_is_the_machines_local_zone() -> None:
    msgs = parse_all(W / "chat_german.txt")[0]
    assert msgs[0].time == datetime(2023, 12, 31, 21, 41).timestamp()


def test_day_first_24h_with_rtl_names() -> None:
    msgs, _ = parse_all(W / "chat_dayfirst_24h.txt", tz="UTC")
    assert [m.author for m in msgs] == ["أحمد", "Zoë", "Zoë", "أحمد"]
    assert msgs[0].text == "صباح الخير"
    assert msgs[0].time == utc(2024, 1, 5, 8, 15)
    assert msgs[2].text == "Rendez-vous à 19h?\nMulti-line second line"


def test_dotted_german_dates_with_bom() -> None:
    msgs, _ = parse_all(W / "chat_german.txt", tz="UTC")
    assert [(m.author, m.text) for m in msgs] == [
        ("Jürgen", "Frohes neues Jahr!"),
        ("Jürgen", "Prost 🥂"),
        ("Søren", "Skål!"),
    ]
    assert msgs[1].time == utc(2024, 1, 1, 0, 1)


def test_bracketed_24h_with_seconds() -> None:
    msgs, _ = parse_all(W / "chat_bracket_24h_seconds.txt", tz="UTC")
    assert [m.time for m in msgs] == [
        utc(2023, 12, 31, 21, 41, 5),
        utc(2023, 12, 31, 21, 41, 59),
        utc(2024, 1, 1, 0, 0, 0),
    ]
    assert msgs[0].author == "Yuki 雪"


def test_ios_zip_with_marks_system_lines_and_attachments(tmp_path: Path) -> None:
    archive = tmp_path / "WhatsApp Chat - Family 🏠.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(W / "_chat.txt", "_chat.txt")
        zf.writestr("00000012-PHOTO-2023-12-31-21-42-10.jpg", b"\xff\xd8\xff")
    msgs, parsed = parse_all(archive, tz="UTC")
    assert parsed.format == "whatsapp"
    assert [(m.author, m.text) for m in msgs] == [
        ("Mom", "Who is bringing dessert?"),
        ("Léa", "Me! 🍰"),
    ]
    assert msgs[0].conversation == "Family 🏠"
    assert msgs[0].time == utc(2023, 12, 31, 21, 41, 30)  # 9:41:30 PM with a narrow NBSP
    assert parsed.skipped == {"system line": 2, "media placeholder": 2}


def test_ambiguous_dates_are_day_first_unless_told() -> None:
    path = W / "chat_ambiguous.txt"
    assert parse_all(path, tz="UTC")[0][0].time == utc(2024, 4, 3, 10, 0)
    assert parse_all(path, tz="UTC", dayfirst=False)[0][0].time == utc(2024, 3, 4, 10, 0)


def test_bad_lines_are_rejected_with_their_line_numbers() -> None:
    msgs, parsed = parse_all(W / "chat_bad_lines.txt", tz="UTC")
    assert [m.text for m in msgs] == ["ok", "fine"]
    assert [(r.where, r.reason) for r in parsed.rejected] == [
        ("line 1", "text outside any message (no date before it)"),
        ("line 3", "the date or time is not valid"),
        ("line 4", "the date or time is not valid"),
    ]


def test_a_non_utf8_line_deep_in_the_file_is_rejected_alone(tmp_path: Path) -> None:
    good = "".join(f"12/31/23, 9:{i % 60:02d} PM - Ann: message number {i}\n" for i in range(2000))
    path = tmp_path / "long.txt"
    path.write_bytes(
        good.encode()
        + "12/31/23, 9:59 PM - José: año\n".encode("latin-1")
        + b"12/31/23, 10:00 PM - Ann: last\n"
    )
    msgs, parsed = parse_all(path, tz="UTC")
    assert len(msgs) == 2001
    assert [(r.where, r.reason) for r in parsed.rejected] == [
        ("line 2001", "not valid UTF-8 text (or far too long)")
    ]


def test_utf16_export_is_read(tmp_path: Path) -> None:
    path = tmp_path / "chat.txt"
    path.write_bytes((W / "chat_german.txt").read_text(encoding="utf-8-sig").encode("utf-16"))
    msgs, parsed = parse_all(path, tz="UTC")
    assert parsed.format == "whatsapp"
    assert [m.text for m in msgs] == ["Frohes neues Jahr!", "Prost 🥂", "Skål!"]


def test_text_file_forced_as_whatsapp_gets_a_clear_error() -> None:
    with pytest.raises(ImportFileError) as err:
        parse(W / "not_whatsapp.txt", "whatsapp")
    assert str(err.value).startswith(
        "not_whatsapp.txt is not a WhatsApp export: no line starts with a date."
    )


def test_unknown_time_zone_is_a_clear_error() -> None:
    from core.errors import BadInput

    with pytest.raises(BadInput, match="Unknown time zone 'Mars/Olympus'"):
        parse(ANDROID_US, tz="Mars/Olympus")


def test_an_absurdly_long_line_is_rejected_without_holding_it(tmp_path: Path) -> None:
    path = tmp_path / "chat.txt"
    with open(path, "wb") as fh:
        fh.write(b"12/31/23, 9:41 PM - Ann: before\n")
        fh.write(b"x" * (3 * 1024 * 1024) + b"\n")
        fh.write(b"12/31/23, 9:42 PM - Ann: after\n")
    msgs, parsed = parse_all(path, tz="UTC")
    assert [m.text for m in msgs] == ["before", "after"]
    assert [r.where for r in parsed.rejected] == ["line 2"]


def test_media_placeholders_but_not_sentences_that_look_alike(tmp_path: Path) -> None:
    path = tmp_path / "chat.txt"
    path.write_text(
        "12/31/23, 9:41 PM - Ann: IMG-20231231-WA0001.jpg (file attached)\n"
        "Look at the tree\n"
        "12/31/23, 9:42 PM - Ann: Report Q4.pdf • 3 pages document omitted\n"
        "12/31/23, 9:43 PM - Ben: the footnote was omitted (file attached)\n"
        "12/31/23, 9:44 PM - Ben: Sorry, the image omitted\n"
        "12/31/23, 9:45 PM - Ben: video omitted\n",
        encoding="utf-8",
    )
    msgs, parsed = parse_all(path, tz="UTC")
    assert [m.text for m in msgs] == [
        "Look at the tree",
        "the footnote was omitted (file attached)",
        "Sorry, the image omitted",
    ]
    assert parsed.skipped == {"media placeholder": 2}


def test_ids_do_not_depend_on_the_zone_or_date_order_chosen() -> None:
    utc_ids = [m.external_id for m in parse_all(ANDROID_US, tz="UTC")[0]]
    ny_ids = [m.external_id for m in parse_all(ANDROID_US, tz="America/New_York")[0]]
    assert utc_ids == ny_ids
    path = W / "chat_ambiguous.txt"
    day = parse_all(path, tz="UTC", dayfirst=True)[0]
    month = parse_all(path, tz="UTC", dayfirst=False)[0]
    assert [m.external_id for m in day] == [m.external_id for m in month]
    assert day[0].time != month[0].time


@pytest.mark.parametrize(
    ("line", "when"),
    [
        ("2023-12-31 21:41 - Åsa: hej", (2023, 12, 31, 21, 41)),
        ("31/12/2023, 9:41 p. m. - Inés: hola", (2023, 12, 31, 21, 41)),
        ("12/31/23, 12:05 AM - Ann: late", (2023, 12, 31, 0, 5)),
        ("[31.12.23, 21:41:05] Jürgen: hallo", (2023, 12, 31, 21, 41, 5)),
    ],
)
def test_more_locale_layouts(tmp_path: Path, line: str, when: tuple[int, ...]) -> None:
    path = tmp_path / "chat.txt"
    path.write_text(line + "\n", encoding="utf-8")
    msgs, _ = parse_all(path, tz="UTC")
    assert [m.time for m in msgs] == [utc(*when)]
    assert msgs[0].author == line.split("] ")[-1].split(" - ")[-1].split(":")[0]
