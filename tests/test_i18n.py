"""Both languages are complete: every string in the code is in both catalogs, translated to Chinese; the
English catalog may leave an entry empty (the source text is then the English)."""
import re
import shlex
from pathlib import Path

from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
CATALOGS = ROOT / "portal" / "translations"
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def _makefile_extract_options() -> tuple[dict, list[str]]:
    """The keywords and ignored folders of `make extract-messages`, so this test extracts exactly as it does."""
    text = (ROOT / "Makefile").read_text().replace("\\\n", " ")
    line = next(line for line in text.splitlines() if "pybabel extract" in line)
    args = shlex.split(line.replace("$(BIN)/", ""))
    keywords = dict(DEFAULT_KEYWORDS)
    ignored = []
    for i, arg in enumerate(args):
        if arg == "-k":
            keywords[args[i + 1]] = None
        elif arg.startswith("--ignore-dirs="):
            ignored = arg.split("=", 1)[1].split()
    return keywords, ignored


def _source_messages() -> set[str]:
    """A fresh extraction with the project's babel.cfg and the Makefile's options (Babel's default filter
    would skip folders starting with "_", such as templates/_macros)."""
    keywords, ignored = _makefile_extract_options()
    with (ROOT / "babel.cfg").open() as handle:
        method_map, options_map = parse_mapping_cfg(handle)

    def wanted(path: str) -> bool:
        return not any(Path(part).match(pattern) for part in Path(path).relative_to(ROOT).parts for pattern in ignored)

    found = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
            str(ROOT), method_map=method_map, options_map=options_map, keywords=keywords, directory_filter=wanted):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


def _catalog(lang: str):
    with (CATALOGS / lang / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return read_po(handle, locale=lang)


def _entries(catalog) -> dict:
    return {(m.id[0] if isinstance(m.id, tuple) else m.id): m for m in catalog if m.id}


def _strings(message) -> tuple:
    return message.string if isinstance(message.string, tuple) else (message.string,)


def test_extraction_sees_the_macros_and_the_marked_texts():
    source = _source_messages()
    assert len(source) > 100
    assert {"Cancel", "Next", "Previous"} <= source  # templates/_macros
    assert "All actions" in source  # N_() marks


def test_every_source_string_is_translated_to_chinese():
    entries = _entries(_catalog("zh"))
    source = _source_messages()
    missing = sorted(m for m in source if m not in entries)
    assert missing == [], f"{len(missing)} strings are not in the zh catalog (or only obsolete); run `make extract-messages`"
    untranslated = sorted(m for m in source if not all(_strings(entries[m])) or entries[m].fuzzy)
    assert untranslated == [], f"{len(untranslated)} strings lack a Chinese translation"


def test_the_english_catalog_has_every_string_and_keeps_the_placeholders():
    entries = _entries(_catalog("en"))
    source = _source_messages()
    missing = sorted(m for m in source if m not in entries)
    assert missing == [], f"{len(missing)} strings are not in the en catalog; run `make extract-messages`"
    assert any(all(_strings(m)) for m in entries.values())  # the final English of some source texts
    for lang in ("en", "zh"):
        for key, message in _entries(_catalog(lang)).items():
            wanted = set(PLACEHOLDER.findall(key))
            for text in _strings(message):
                if text:  # an empty English entry means the source text
                    assert set(PLACEHOLDER.findall(text)) == wanted, (lang, key, text)
