"""Ids from URLs and forms, range-checked before they reach SQL.

PostgreSQL's `integer` is 32-bit and SQLite's INTEGER 64-bit; every id column of the portal is an
`integer`, so one range holds on both backends: 1 … 2**31 - 1. A value outside it names no row:
in a URL it answers 404 (audited as a denial), in a form 400 — never a driver error.
"""
from __future__ import annotations

from werkzeug.exceptions import BadRequest
from werkzeug.routing import IntegerConverter

from .access import ObjectNotFound

DB_ID_MIN = 1
DB_ID_MAX = 2**31 - 1
_ASCII_DIGITS = frozenset("0123456789")


def parse_db_id(text) -> int | None:
    """The id written in `text` (ASCII digits only, in the database's range), else None.

    `str.isdigit()` accepts "²" and "①", and int() accepts "１２" and "1_000": neither is an id here."""
    if isinstance(text, bool):
        return None
    if isinstance(text, int):
        return text if DB_ID_MIN <= text <= DB_ID_MAX else None
    if not isinstance(text, str) or not text or len(text) > 10 or not set(text) <= _ASCII_DIGITS:
        return None
    value = int(text)
    return value if DB_ID_MIN <= value <= DB_ID_MAX else None


def db_id(value) -> int:
    """`coerce=` for id fields (SelectField, SelectMultipleField): an out-of-range or malformed id
    in the submitted form refuses the whole request with 400."""
    if value is None:
        raise TypeError("no id")  # WTForms: no data yet (a form shown, not submitted)
    parsed = parse_db_id(value)
    if parsed is None:
        raise BadRequest("an id outside the database's range")
    return parsed


class OutOfRangeId(ObjectNotFound):
    """404 for an id in the URL that no row can have; audited like any other denial."""

    def __init__(self):
        super().__init__("id", None)


class IdConverter(IntegerConverter):
    """`<int:…>` in every route: ASCII digits only, within the database's integer range."""

    regex = r"[0-9]+"

    def to_python(self, value: str) -> int:
        parsed = parse_db_id(value)
        if parsed is None:
            raise OutOfRangeId()
        return parsed


def register(app) -> None:
    """Install the id converter as `int` (and `id`); call before blueprints are registered."""
    app.url_map.converters["int"] = IdConverter
    app.url_map.converters["id"] = IdConverter
