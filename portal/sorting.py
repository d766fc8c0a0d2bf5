"""The order people expect for names: Chinese by pinyin, other text case- and accent-insensitively.

`sort_key` turns a name into a plain lower-case ASCII-first string that the database can sort with its
ordinary (code-point) collation, on SQLite and PostgreSQL alike: Chinese characters become their pinyin
syllables (`北美` -> "bei mei", so 北美 < 区域 < 已撤销 as b < q < y), Latin letters are folded to lower
case without accents ("Émile" -> "emile"), digits and other characters stay. The key is stored next to
the name (models.py keeps it in step) so list pages sort through an index.
"""
from __future__ import annotations

import os
import unicodedata

# pypinyin's phrase dictionary costs every process about 45 MB (55 MB with it, 12 MB without; measured with
# ru_maxrss). Without it each character sorts by its usual reading, as ICU's pinyin collation and phone contact
# lists do; the few polyphonic place names sellers put in shop names are given below.
os.environ.setdefault("PYPINYIN_NO_PHRASES", "true")

from pypinyin import Style, lazy_pinyin, load_phrases_dict  # noqa: E402 (after the setting above)
from sqlalchemy import String  # noqa: E402

load_phrases_dict({
    "重庆": [["chóng"], ["qìng"]], "长沙": [["cháng"], ["shā"]], "长春": [["cháng"], ["chūn"]],
    "长安": [["cháng"], ["ān"]], "长城": [["cháng"], ["chéng"]], "长江": [["cháng"], ["jiāng"]],
    "厦门": [["xià"], ["mén"]], "成都": [["chéng"], ["dū"]], "首都": [["shǒu"], ["dū"]],
    "西藏": [["xī"], ["zàng"]], "六安": [["lù"], ["ān"]], "蚌埠": [["bèng"], ["bù"]],
    "银行": [["yín"], ["háng"]], "音乐": [["yīn"], ["yuè"]],
})

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
