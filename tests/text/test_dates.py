"""The date translation task: seeded pairs, every format parses back to its ISO date."""

import datetime as dt
import re

import pytest

from dlkit.text.dates import (
    DAYS,
    FORMAT_NAMES,
    MONTHS,
    TX,
    date_pairs,
    format_date,
    human_vocab,
    machine_vocab,
)


def parse_back(text):
    """An independent reader of the formats (regular expressions), for the test."""
    t = text.replace(",", "")
    months = {m: i + 1 for i, m in enumerate(MONTHS)} | {m[:3]: i + 1 for i, m in
                                                        enumerate(MONTHS)}
    for d in DAYS:
        if t.startswith(d + " "):
            t = t[len(d) + 1:]
            m = re.fullmatch(r"(\d\d)/(\d\d)/(\d{4})", t)
            if m:
                return dt.date(int(m[3]), int(m[2]), int(m[1]))
    if m := re.fullmatch(r"(\d{4})-(\d\d)-(\d\d)", t):
        return dt.date(int(m[1]), int(m[2]), int(m[3]))
    if m := re.fullmatch(r"(\d\d)\.(\d\d)\.(\d{2,4})", t):
        y = int(m[3]) if len(m[3]) == 4 else (2000 + int(m[3]) if int(m[3]) < 50
                                             else 1900 + int(m[3]))
        return dt.date(y, int(m[2]), int(m[1]))
    if m := re.fullmatch(r"(\d+)/(\d+)/(\d\d)", t):
        y = int(m[3])
        return dt.date(2000 + y if y < 50 else 1900 + y, int(m[1]), int(m[2]))
    if m := re.fullmatch(r"(\d+) (\d\d) (\d\d)", t):
        y = int(m[3])
        return dt.date(2000 + y if y < 50 else 1900 + y, int(m[2]), int(m[1]))
    if m := re.fullmatch(r"(\d+)(?:st|nd|rd|th)? ([a-z]+) (\d{4})", t):
        return dt.date(int(m[3]), months[m[2]], int(m[1]))
    if m := re.fullmatch(r"([a-z]+) (\d+) (\d{4})", t):
        return dt.date(int(m[3]), months[m[1]], int(m[2]))
    raise AssertionError(f"unreadable: {text!r}")


def test_pairs_are_seeded_and_correct():
    a = date_pairs(500, seed=3)
    assert a == date_pairs(500, seed=3)
    assert a != date_pairs(500, seed=4)
    for human, iso in a:
        assert parse_back(human).isoformat() == iso
        assert len(human) <= TX and len(iso) == 10


def test_every_format_is_drawn_and_fits():
    seen = set()
    for human, _ in date_pairs(2000, seed=0):
        seen.add(human)
    assert len(seen) > 1900
    for name in FORMAT_NAMES:
        text = format_date(dt.date(2037, 9, 30), name)
        assert parse_back(text) == dt.date(2037, 9, 30), name
        assert len(text) <= TX


def test_examples_of_the_issue():
    assert format_date(dt.date(1998, 5, 9), "d mmmm yyyy") == "9 may 1998"
    assert format_date(dt.date(2009, 6, 10), "dddd dd/mm/yyyy") == "wednesday 10/06/2009"
    assert format_date(dt.date(1976, 4, 21), "dd.mm.yyyy") == "21.04.1976"
    assert format_date(dt.date(2001, 1, 3), "dth mmmm yyyy") == "3rd january 2001"
    # the last days of a year keep their calendar year (no ISO week-year pitfall)
    assert format_date(dt.date(2012, 12, 31), "dd.mm.yyyy") == "31.12.2012"


def test_vocabularies_cover_the_data():
    hv, mv = human_vocab(), machine_vocab()
    assert len(mv) == 3 + 11
    for human, iso in date_pairs(300, seed=1):
        assert hv.unk_id not in hv.encode(human)
        assert mv.unk_id not in mv.encode(iso)


def test_bad_input():
    with pytest.raises(ValueError, match="unknown format"):
        format_date(dt.date(2000, 1, 1), "nope")
    with pytest.raises(ValueError, match="two-digit"):
        format_date(dt.date(1900, 1, 1), "m/d/yy")
    with pytest.raises(ValueError, match="no format"):
        date_pairs(3, formats=["m/d/yy"], start=dt.date(1900, 1, 1), end=dt.date(1901, 1, 1))
