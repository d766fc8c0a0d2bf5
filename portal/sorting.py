"""The order people expect for names: Chinese by pinyin, other text case- and accent-insensitively.

`sort_key` turns a name into a plain lower-case ASCII-first string that the database can sort with its
ordinary (code-point) collation, on SQLite and PostgreSQL alike: Chinese characters become their pinyin
syllables (`北美` -> "bei mei", so 北美 < 区域 < 已撤销 as b < q < y), Latin letters are folded to lower
case without accents ("Émile" -> "emile"), digits and other characters stay. The key is stored next to
the name (models.py keeps it in step) so list pages sort through an index.
"""
from __future__ import annotations

import unicodedata

from pypinyin import Style, lazy_pinyin
from sqlalchemy import String

SORT_KEY_MAX = 255
# Keys compare byte by byte on every backend: a PostgreSQL database created with a language collation
# (en_US.UTF-8) would otherwise skip the spaces between syllables and put "aiden" before "ai er lan".
SortKeyType = String(SORT_KEY_MAX).with_variant(String(SORT_KEY_MAX, collation="C"), "postgresql")


def _fold(text: str) -> str:
    """Width-, case- and accent-folded text: "ＡＢＣ" -> "abc", "Émile" -> "emile"."""
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text).casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def sort_key(name: str | None) -> str:
    """The stored sort key of a name; syllables are separated by one space so 北京 < 北美 (jing < mei)."""
    if not name:
        return ""
    parts = lazy_pinyin(unicodedata.normalize("NFKC", name), style=Style.NORMAL, errors="default")
    return " ".join(_fold(" ".join(parts)).split())[:SORT_KEY_MAX]


def sorted_by_name(items, name=lambda item: item):
    """`items` sorted by `sort_key` of their names (then by the name itself, for a stable order)."""
    return sorted(items, key=lambda item: (sort_key(name(item)), name(item)))
