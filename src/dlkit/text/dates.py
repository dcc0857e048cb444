"""The course's date translation task (course 5 week 3 exercise): human-readable dates in many
formats ("9 may 1998", "tuesday 10/06/2009", "21.04.1976", ...) paired with ISO YYYY-MM-DD.

Made with the standard library only (``datetime`` for the calendar and the day of the week;
no week-year formatting, so no ISO week-year pitfall). Seeded: ``date_pairs(n, seed=s)`` gives
the same pairs every time. Texts are lowercased as in the exercise.

Unambiguous formats only: the day-first slash form always comes after a day name
("tuesday 10/06/2009"), the month-first US form never does ("5/9/98"), and two-digit years
are read in the window 1950..2049 (so those formats are drawn only for such years).

Vocabularies, as the exercise (``human_vocab``, ``machine_vocab``), here ``CharVocab``s whose ids
0, 1, 2 are ``<PAD>``, ``<UNK>``, ``<EOS>``: ``human_vocab()`` the characters of every format,
``machine_vocab()`` the 10 digits and "-". The exercise's sizes: T_x = 30, T_y = 10.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Sequence

import numpy as np

from dlkit.text.vocab import CharVocab

TX, TY = 30, 10
MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august",
          "september", "october", "november", "december"]
DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
HUMAN_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789 ,./-"
MACHINE_CHARS = "0123456789-"


def _ordinal(d: int) -> str:
    suffix = "th" if 11 <= d % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(d % 10, "th")
    return f"{d}{suffix}"


def _mon(m: int) -> str:
    return MONTHS[m - 1][:3]


Fmt = Callable[[_dt.date], str]
# (format, needs a year in the two-digit window)
FORMATS: list[tuple[str, Fmt, bool]] = [
    ("d mmmm yyyy", lambda x: f"{x.day} {MONTHS[x.month - 1]} {x.year}", False),
    ("dd mmmm yyyy", lambda x: f"{x.day:02d} {MONTHS[x.month - 1]} {x.year}", False),
    ("d mmm yyyy", lambda x: f"{x.day} {_mon(x.month)} {x.year}", False),
    ("dd mmm yyyy", lambda x: f"{x.day:02d} {_mon(x.month)} {x.year}", False),
    ("d mmmm, yyyy", lambda x: f"{x.day} {MONTHS[x.month - 1]}, {x.year}", False),
    ("d mmm, yyyy", lambda x: f"{x.day} {_mon(x.month)}, {x.year}", False),
    ("mmmm d yyyy", lambda x: f"{MONTHS[x.month - 1]} {x.day} {x.year}", False),
    ("mmmm d, yyyy", lambda x: f"{MONTHS[x.month - 1]} {x.day}, {x.year}", False),
    ("mmm d, yyyy", lambda x: f"{_mon(x.month)} {x.day}, {x.year}", False),
    ("dth mmmm yyyy", lambda x: f"{_ordinal(x.day)} {MONTHS[x.month - 1]} {x.year}", False),
    ("dd.mm.yyyy", lambda x: f"{x.day:02d}.{x.month:02d}.{x.year}", False),
    ("dd.mm.yy", lambda x: f"{x.day:02d}.{x.month:02d}.{x.year % 100:02d}", True),
    ("d mm yy", lambda x: f"{x.day} {x.month:02d} {x.year % 100:02d}", True),
    ("m/d/yy", lambda x: f"{x.month}/{x.day}/{x.year % 100:02d}", True),
    ("dddd dd/mm/yyyy",
     lambda x: f"{DAYS[x.weekday()]} {x.day:02d}/{x.month:02d}/{x.year}", False),
    ("dddd, mmmm d, yyyy",
     lambda x: f"{DAYS[x.weekday()]}, {MONTHS[x.month - 1]} {x.day}, {x.year}", False),
    ("dddd d mmmm yyyy",
     lambda x: f"{DAYS[x.weekday()]} {x.day} {MONTHS[x.month - 1]} {x.year}", False),
    ("yyyy-mm-dd", lambda x: x.isoformat(), False),
]
FORMAT_NAMES = [name for name, _, _ in FORMATS]


def format_date(date: _dt.date, fmt: str) -> str:
    """``date`` written in the format named ``fmt`` (one of ``FORMAT_NAMES``)."""
    for name, f, short_year in FORMATS:
        if name == fmt:
            if short_year and not 1950 <= date.year <= 2049:
                raise ValueError(f"format_date: {fmt!r} writes two-digit years, read in "
                                 f"1950..2049; got the year {date.year}")
            return f(date)
    raise ValueError(f"format_date: unknown format {fmt!r}; expected one of {FORMAT_NAMES}")


def random_dates(n: int, seed: int | None = 0, start: _dt.date = _dt.date(1950, 1, 1),
                 end: _dt.date = _dt.date(2049, 12, 31)) -> list[_dt.date]:
    """``n`` dates drawn uniformly between ``start`` and ``end`` (inclusive), seeded."""
    rng = np.random.default_rng(seed)
    days = rng.integers(0, (end - start).days + 1, size=n)
    return [start + _dt.timedelta(days=int(d)) for d in days]


def date_pairs(n: int, seed: int | None = 0, formats: Sequence[str] | None = None,
               start: _dt.date = _dt.date(1950, 1, 1), end: _dt.date = _dt.date(2049, 12, 31),
               ) -> list[tuple[str, str]]:
    """``n`` (human, machine) pairs: a date in a format drawn uniformly from ``formats``
    (default all; the two-digit-year ones only for years in 1950..2049), and its ISO form."""
    names = list(formats) if formats is not None else FORMAT_NAMES
    unknown = [f for f in names if f not in FORMAT_NAMES]
    if unknown:
        raise ValueError(f"date_pairs: unknown formats {unknown}; expected some of "
                         f"{FORMAT_NAMES}")
    rng = np.random.default_rng(None if seed is None else seed + 1)
    table = {name: (f, short) for name, f, short in FORMATS}
    pairs = []
    for date in random_dates(n, seed, start, end):
        usable = [f for f in names if not table[f][1] or 1950 <= date.year <= 2049]
        if not usable:
            raise ValueError(f"date_pairs: no format in {names} can write the year {date.year}")
        f = usable[int(rng.integers(len(usable)))]
        pairs.append((table[f][0](date), date.isoformat()))
    return pairs


def human_vocab() -> CharVocab:
    """The characters of every human format (letters, digits, " ,./-") after the specials."""
    return CharVocab(sorted(HUMAN_CHARS), lower=True)


def machine_vocab() -> CharVocab:
    """The ISO date's characters: the 10 digits and "-" after the specials."""
    return CharVocab(sorted(MACHINE_CHARS))


__all__ = ["DAYS", "FORMATS", "FORMAT_NAMES", "MONTHS", "TX", "TY", "date_pairs", "format_date",
           "human_vocab", "machine_vocab", "random_dates"]
