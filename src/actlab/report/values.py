"""Values as text and HTML: numbers, config values, durations, commands, short prose."""

from __future__ import annotations

import html
import math
import re
import shlex
from collections.abc import Sequence
from typing import Any

__all__ = ["esc", "format_value", "number_text", "config_text", "duration", "short_evidence", "first_sentence",
           "short_source", "command_html", "unique", "is_scalar", "is_short_list", "is_long_list", "numeric",
           "user_text", "plural", "DASH", "SHORT_LIST", "SUMMARY_CHARS"]

esc = html.escape
DASH = "\u2014"
SHORT_LIST = 8       # lists up to this long print inline; longer ones fold away
SUMMARY_CHARS = 240  # evidence longer than this is shortened where a short form is needed

# Phrases that point at files a user of the installed package does not have.
_INTERNAL = ((re.compile(r"DESIGN\.md(?:'s)? budget"), "actlab's budget"),
             (re.compile(r"DESIGN\.md's"), "actlab's"),
             (re.compile(r"\bDESIGN\.md\b"), "actlab's design"))


def user_text(text: str) -> str:
    """Prose for a reader of the report: no reference to the project's internal files."""
    for pattern, repl in _INTERNAL:
        text = pattern.sub(repl, text)
    return text


def plural(n: Any, word: str, many: str | None = None) -> str:
    """``plural(1, "thread")`` -> "1 thread"; ``plural(2, "thread")`` -> "2 threads"."""
    return f"{n} {word if str(n) == '1' else (many or word + 's')}"


def is_scalar(v: Any) -> bool:
    return v is None or isinstance(v, (bool, int, float, str))


def is_short_list(v: Any) -> bool:
    return isinstance(v, list) and len(v) <= SHORT_LIST and all(is_scalar(x) for x in v)


def is_long_list(v: Any) -> bool:
    return isinstance(v, list) and len(v) > SHORT_LIST and all(is_scalar(x) for x in v)


def number_text(v: Any) -> str:
    """A value as plain text: numbers to 4 significant digits, None as a dash."""
    if v is None:
        return DASH
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            return str(v)
        return "0" if v == 0 else f"{v:.4g}"
    return str(v)


def _item(v: Any) -> str:
    text = esc(number_text(v))
    return f'<span class="nb">{text}</span>' if "-" in text else text  # no line break inside 1e-06


def format_value(v: Any) -> str:
    """A metric value as HTML: numbers to 4 significant digits, None as a dash, lists inline."""
    if isinstance(v, list):
        return '<span class="list">' + ", ".join(_item(x) for x in v) + "</span>"
    if v is None:
        return f'<span class="none" title="null: not reached or not measured">{DASH}</span>'
    return esc(number_text(v))


def numeric(v: Any) -> bool:
    return v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) or v in ("nan", "inf", "-inf")


def config_text(v: Any) -> str:
    """A config value as the command line writes it."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "none"
    if isinstance(v, (list, tuple)):
        return ",".join(config_text(x) for x in v)
    if isinstance(v, float):
        return repr(v)
    return str(v)


def duration(seconds: Any) -> str:
    if not isinstance(seconds, (int, float)) or not math.isfinite(seconds):
        return "unknown"
    if seconds < 60:
        return f"{seconds:.1f} s"
    m, s = divmod(round(seconds), 60)
    return f"{m} min {s:02d} s" if m < 60 else f"{m // 60} h {m % 60:02d} min"


def short_evidence(text: str, limit: int = SUMMARY_CHARS) -> str:
    """``text`` cut to about ``limit`` characters at a clause boundary, outside brackets."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    depth, cut = 0, -1
    for i, ch in enumerate(text[:limit]):
        depth += ch in "([{"
        depth -= ch in ")]}"
        if depth == 0 and ch in ";:," and i > limit // 3:
            cut = i
    if cut < 0:
        cut = text.rfind(" ", 0, limit)
    return text[: cut if cut > 0 else limit].rstrip(" ,;:") + "\u2009\u2026"


def first_sentence(text: str, limit: int | None = 120) -> str:
    """The first sentence of ``text``; shortened at a clause boundary only when ``limit`` is given."""
    text = " ".join(text.split())
    m = re.search(r"(?<=\.)\s+(?=[A-Z])", text)
    first = text[: m.start()] if m else text
    return first if limit is None or len(first) <= limit else short_evidence(first, limit)


def short_source(source: str, limit: int = 70) -> str:
    """The first reference of a source line, bare: 'Glorot & Bengio 2010, Fig. 2-4'."""
    first = source.split(";")[0]
    first = re.sub(r",?\s*(?<!\w)'[^']+'(?!\w)", "", first)  # quoted titles, not apostrophes
    first = re.sub(r"\s*\([^()]*\)", "", first)  # parentheticals
    first = " ".join(first.split(":")[0].split()).strip(" ,")
    return first if len(first) <= limit else short_evidence(first, limit)


def command_html(command: str) -> str:
    """A shell command whose lines break between arguments only."""
    try:
        args = shlex.split(command)
    except ValueError:  # unbalanced quotes: show it as written
        return esc(command)
    return " ".join(f'<span class="arg">{esc(shlex.quote(a))}</span>' for a in args)


def unique(items: Sequence[Any]) -> list[Any]:
    return list(dict.fromkeys(items))
