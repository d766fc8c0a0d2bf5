"""Both languages are complete: every string in the code has a Chinese translation."""
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "portal" / "translations" / "zh" / "LC_MESSAGES" / "messages.po"
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None}


def _source_messages() -> set[str]:
    method_map = [("portal/**.py", "python"), ("templates/**.html", "jinja2")]
    found = set()
    # Babel's default filter skips folders starting with "_" (templates/_macros): look everywhere
    # but hidden folders, as `make extract-messages` does.
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
            str(ROOT), method_map=method_map, keywords=KEYWORDS,
            directory_filter=lambda path: not Path(path).name.startswith(".")):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


def test_every_source_string_is_translated_to_chinese():
    with PO.open("rb") as handle:
        catalog = read_po(handle)
    translated = {}
    for message in catalog:
        if not message.id:
            continue
        key = message.id[0] if isinstance(message.id, tuple) else message.id
        value = message.string
        ok = all(value) if isinstance(value, tuple) else bool(value)
        translated[key] = ok and not message.fuzzy
    source = _source_messages()
    assert len(source) > 100
    missing = sorted(m for m in source if not translated.get(m))
    assert missing == [], f"{len(missing)} strings lack a Chinese translation; run `make extract-messages`"
