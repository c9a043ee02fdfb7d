"""Reports in the reader's language: message catalogs for sentences and notebook narrative.

The model is gettext's: the English text is the message id, a catalog per language maps it to the
translation, and a missing entry falls back to English. Two kinds of catalog live in
``locales/<lang>/``:

* ``messages.yaml``: the sentences code writes into reports, as ``str.format`` templates
  (``tr("{n:,} members on the list.", n=...)``);
* ``<notebook stem>.yaml``: a notebook's markdown cells, as a list of ``{en: ..., <lang>: ...}``
  pairs, swapped in when a report is rendered in that language.

Keyed by the English text, a translation goes stale the moment the English changes: the tests
check that every message and every markdown cell has an entry and that no entry is unused.
The language is the report's (:func:`analysis.presentation.formats.configure`).
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import yaml

from analysis.presentation.languages import SOURCE, folder, languages
from analysis.presentation.languages import language as language_spec


def language() -> str:
    from analysis.presentation.formats import settings

    return settings().lang


#: The catalogs of words that are not sentences of the reports, each its own file (gettext's
#: domains): the same English word may need another translation there (a defined term).
DOMAINS = ("messages", "terms")


@cache
def messages(lang: str, domain: str = "messages") -> dict[str, str]:
    """The catalog ``domain`` of ``lang`` (English: empty, the ids are the text)."""
    if domain not in DOMAINS:
        raise ValueError(f"unknown catalog {domain!r}; one of {', '.join(DOMAINS)}")
    if lang == SOURCE or lang not in languages():
        return {}
    path = folder(lang) / f"{domain}.yaml"
    if not path.is_file():
        return {}
    pairs = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    return {str(p["en"]).strip(): str(p[lang]).strip() for p in pairs}


def N_(msgid: str) -> str:
    """Marks ``msgid`` for the catalog where it is defined; translated where it is shown (``tr(x)``)."""
    return msgid


def tr(msgid: str, /, lang: str | None = None, domain: str = "messages", **fields) -> str:
    """``msgid`` in the report's language (or ``lang``), formatted with ``fields``; ``domain``: the
    catalog (:data:`DOMAINS`) that holds it."""
    text = messages(lang or language(), domain).get(msgid.strip(), msgid)
    return text.format(**fields) if fields else text


@cache
def narrative(stem: str, lang: str) -> dict[str, str]:
    """A notebook's markdown cells in ``lang``: ``{English source: translation}``."""
    if lang == SOURCE or lang not in languages():
        return {}
    path = folder(lang) / f"{stem}.yaml"
    if not path.is_file():
        return {}
    pairs = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    return {_key(p["en"]): str(p[lang]).rstrip("\n") for p in pairs}


def _key(source: str) -> str:
    return "\n".join(line.rstrip() for line in str(source).strip().splitlines())


def translate_notebook(nb, stem: str, lang: str) -> list[str]:
    """Swap the markdown cells of ``nb`` for their ``lang`` text, in place; returns the English
    sources that have no translation (left as they are)."""
    table = narrative(stem, lang)
    missing = []
    if not table:
        return missing
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        text = table.get(_key(cell.source))
        if text is None:
            missing.append(cell.source)
        else:
            cell.source = text
    return missing


def title(nb, stem: str, lang: str) -> str | None:
    """The notebook's first ``# heading`` in ``lang`` (``None``: no heading)."""
    table = narrative(stem, lang)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            source = table.get(_key(cell.source), cell.source)
            for line in source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return None


def extract_messages(paths) -> dict[str, str]:
    """The message ids marked in Python sources (``tr("...")``, ``N_("...")`` and a local ``_t("...")``
    with a literal first argument), as ``{msgid: "file:line"}``: what a catalog must translate."""
    import ast

    found: dict[str, str] = {}
    for path in paths:
        tree = ast.parse(Path(path).read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
            first = node.args[0]
            if name in ("tr", "N_", "_t") and isinstance(first, ast.Constant) and isinstance(first.value, str):
                found.setdefault(first.value.strip(), f"{path}:{node.lineno}")
    return found


def source_files() -> list[Path]:
    """The package's modules and the notebooks' Python twins: where report text is written."""
    from analysis.data.config import NOTEBOOKS_DIR

    return sorted(Path(__file__).resolve().parents[1].rglob("*.py")) + sorted(NOTEBOOKS_DIR.rglob("*.py"))


def notebook_sources(lang: str = "zh") -> dict[str, list[str]]:
    """Every notebook's markdown cells, by stem: what the narrative catalogs must translate."""
    import nbformat

    from analysis.data.config import NOTEBOOKS_DIR

    out = {}
    for path in sorted(NOTEBOOKS_DIR.rglob("*.ipynb")):
        if ".ipynb_checkpoints" in path.parts:
            continue
        nb = nbformat.read(path, as_version=4)
        out[path.stem] = [_key(c.source) for c in nb.cells if c.cell_type == "markdown" and c.source.strip()]
    return out


#: The pseudo-language's letters: every ASCII letter becomes a look-alike outside ASCII, so a page
#: rendered in it shows every string that did not go through a catalog as plain ASCII words.
_PSEUDO = str.maketrans(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "áƀçđéƒğĥíĵķĺɱñóþʠŕšţúṽŵẋýžÁƁÇĐÉƑĜĤÍĴĶĹṀÑÓṖǪŔŠŢÚṼŴẊÝŽ",
)
#: What a translation keeps as it is: format fields, markup, code, link targets, entities, math.
_KEEP = re.compile(r"\{[^{}]*\}|<[^<>]*>|`[^`]*`|\]\([^)]*\)|&#?\w+;|\$[^$]*\$|https?://\S+")
#: The code of the pseudo-language (a private-use code: no real language has it).
PSEUDO = "qps"


def pseudo(text: str) -> str:
    """``text`` in the pseudo-language: its letters swapped for look-alikes (format fields, HTML
    tags, code spans, link targets and math kept, so the translation renders as the English does)."""
    out, last = [], 0
    for m in _KEEP.finditer(text):
        out.append(text[last : m.start()].translate(_PSEUDO))
        out.append(m.group(0))
        last = m.end()
    out.append(text[last:].translate(_PSEUDO))
    return "".join(out)


def write_pseudo(root) -> Path:
    """A complete catalog of the pseudo-language in ``root/qps/`` (every message, term and
    notebook cell of the English sources, pseudo-translated); ``MALLWAKE_LOCALES=root`` makes it a
    language of the reports. Returns its folder."""
    out = Path(root) / PSEUDO
    out.mkdir(parents=True, exist_ok=True)
    (out / "language.yaml").write_text("name: Pséúđó\nhtml: qps\ncjk: false\n", encoding="utf-8")
    for name, ids in catalog_ids(PSEUDO).items():  # what any language must translate
        pairs = [{"en": m, PSEUDO: pseudo(m)} for m in ids]
        text = yaml.safe_dump(pairs, allow_unicode=True, width=120, sort_keys=False)
        (out / f"{name}.yaml").write_text(text, encoding="utf-8")
    return out


def catalog_ids(lang: str) -> dict[str, dict[str, str]]:
    """``{catalog: {English id: where it is used}}``: what a translation of ``lang`` must cover (the
    ``messages`` and ``terms`` catalogs, and each notebook's narrative)."""
    from analysis.presentation.definitions import ENTRIES

    out = {"messages": extract_messages(source_files())}
    out["terms"] = {term: "analysis/presentation/definitions.py" for _, term, _ in ENTRIES}
    for stem, cells in notebook_sources(lang).items():
        out[stem] = dict.fromkeys(cells, f"notebooks/{stem}.ipynb")
    return out


def _catalog(lang: str, name: str) -> dict[str, str]:
    return messages(lang, name) if name in DOMAINS else narrative(name, lang)


def export_po(lang: str, out_dir) -> list[Path]:
    """The catalogs of ``lang`` as gettext ``.po`` files in ``out_dir`` (one per catalog, the
    English as ``msgid``, the translation as ``msgstr``, empty where there is none yet): for
    translators' tools (Poedit, Weblate, Lokalize). :func:`import_po` reads them back."""
    from babel.core import Locale, UnknownLocaleError
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import write_po

    try:
        locale = Locale.parse(lang)
    except (ValueError, UnknownLocaleError):  # a pseudo or private language
        locale = None
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, ids in catalog_ids(lang).items():
        have = _catalog(lang, name)
        cat = Catalog(locale=locale, domain=name, project="mallwake", fuzzy=False)
        for msgid, where in ids.items():
            path, _, line = str(where).rpartition(":")
            location = (path, int(line)) if line.isdigit() else (str(where), 0)
            cat.add(msgid, have.get(msgid, ""), locations=[location])
        path = out_dir / f"{name}.po"
        with path.open("wb") as f:
            write_po(f, cat, width=0, omit_header=False)
        written.append(path)
    return written


def import_po(lang: str, po_files) -> list[Path]:
    """Write the translations of gettext ``.po`` files (named after their catalog, as
    :func:`export_po` writes them) into ``lang``'s YAML catalogs; an empty ``msgstr`` is left out."""
    from babel.messages.pofile import read_po

    written = []
    for po in map(Path, po_files):
        with po.open("rb") as f:
            cat = read_po(f)
        pairs = [{"en": m.id, lang: m.string} for m in cat if m.id and m.string]
        path = folder(lang) / f"{po.stem}.yaml"
        head = f"# {po.stem} in {language_spec(lang).name}: imported from {po.name} (python -m analysis.presentation.i18n import-po)\n"
        path.write_text(head + yaml.safe_dump(pairs, allow_unicode=True, width=120, sort_keys=False), encoding="utf-8")
        written.append(path)
    messages.cache_clear()
    narrative.cache_clear()
    return written


def main(argv=None) -> int:
    """``python -m analysis.presentation.i18n missing zh``: print the messages and markdown cells without a
    translation, as YAML entries to fill in. ``python -m analysis.presentation.i18n pseudo DIR``: write the
    pseudo-language's catalogs into ``DIR/qps`` (then ``MALLWAKE_LOCALES=DIR mallwake run -p lang=qps``).
    ``po zh DIR``: the catalogs of ``zh`` as gettext ``.po`` files for translators' tools;
    ``import-po zh FILE.po ...``: their translations back into the YAML catalogs."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m analysis.presentation.i18n")
    ap.add_argument("what", choices=["missing", "pseudo", "po", "import-po"])
    ap.add_argument(
        "lang", help="the language (missing, po, import-po), or the folder to write the pseudo-language into (pseudo)"
    )
    ap.add_argument("paths", nargs="*", help="po: the folder to write .po files into; import-po: the .po files")
    args = ap.parse_args(argv)
    if args.what == "pseudo":
        print(write_pseudo(args.lang))
        return 0
    if args.what == "po":
        for path in export_po(args.lang, args.paths[0] if args.paths else f"po-{args.lang}"):
            print(path)
        return 0
    if args.what == "import-po":
        for path in import_po(args.lang, args.paths):
            print(path)
        return 0
    have = messages(args.lang)
    todo = [m for m in extract_messages(source_files()) if m not in have]
    print(yaml.safe_dump([{"en": m, args.lang: ""} for m in todo], allow_unicode=True, width=120, sort_keys=False))
    for stem, cells in notebook_sources(args.lang).items():
        table = narrative(stem, args.lang)
        left = [c for c in cells if c not in table]
        if left:
            print(f"# {stem}")
            print(yaml.safe_dump([{"en": c, args.lang: ""} for c in left], allow_unicode=True, width=120, sort_keys=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
