"""Corpora: the bundled dinosaur names (the course's ``dinos.txt``) and text files.

The names ship inside the package (``dlkit/text/data/dinos.txt``, read with
``importlib.resources``), so the character-model exercise runs offline.
"""

from __future__ import annotations

import os
from importlib import resources

BUNDLED = {"dinos": "dinos.txt"}


def bundled_text(name: str = "dinos") -> str:
    """The text of a corpus shipped with dlkit: ``"dinos"`` (1536 dinosaur names, one a
    line, as the course's Dinosaurus Island exercise)."""
    if name not in BUNDLED:
        raise ValueError(f"bundled_text: unknown corpus {name!r}; bundled: {sorted(BUNDLED)}")
    path = resources.files("dlkit.text").joinpath("data", BUNDLED[name])
    return path.read_text(encoding="utf-8")


def split_lines(text: str, lower: bool = False) -> list[str]:
    """The non-empty lines of ``text``, stripped of surrounding white space."""
    lines = [line.strip() for line in text.splitlines()]
    return [line.lower() if lower else line for line in lines if line]


def dinosaur_names(lower: bool = True) -> list[str]:
    """The course's 1536 dinosaur names ("Aachenosaurus" ... "Zuul"), lowercased as the
    exercise's ``data.lower()`` unless ``lower=False``."""
    return split_lines(bundled_text("dinos"), lower)


def read_text(path: str | os.PathLike) -> str:
    """A UTF-8 text file; ``FileNotFoundError`` / ``ValueError`` name the file."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"read_text: no such file: {path!r}")
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except UnicodeDecodeError as e:
        raise ValueError(f"read_text: {path!r} is not UTF-8 text ({e})") from None


def read_lines(path: str | os.PathLike, lower: bool = False) -> list[str]:
    """The non-empty lines of a UTF-8 text file (one name or sentence a line); a file with
    none is an error."""
    lines = split_lines(read_text(path), lower)
    if not lines:
        raise ValueError(f"read_lines: {os.fspath(path)!r} has no non-empty lines")
    return lines


__all__ = ["bundled_text", "dinosaur_names", "read_lines", "read_text", "split_lines"]
