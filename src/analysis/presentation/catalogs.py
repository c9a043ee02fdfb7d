"""Translators' tools for the message catalogs (:mod:`analysis.presentation.i18n` looks words up;
this module finds, checks, generates and converts the catalogs).

``python -m analysis.presentation.catalogs missing zh`` lists what a language lacks; ``pseudo DIR``
writes the pseudo-language of the tests; ``po zh DIR`` and ``import-po zh FILES`` convert the
catalogs to and from gettext ``.po`` files (Babel), which translators' tools read.
"""

from __future__ import annotations

import argparse
import ast
import re
from pathlib import Path

import yaml

from analysis.data.config import NOTEBOOKS_DIR
from analysis.presentation.definitions import ENTRIES
from analysis.presentation.i18n import DOMAINS, _key, messages, narrative
from analysis.presentation.languages import folder
from analysis.presentation.languages import language as language_spec


def extract_messages(paths) -> dict[str, str]:
    """The message ids marked in Python sources (``tr("...")``, ``N_("...")`` and a local ``_t("...")``
    with a literal first argument), as ``{msgid: "file:line"}``: what a catalog must translate."""
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
    return sorted(Path(__file__).resolve().parents[1].rglob("*.py")) + sorted(NOTEBOOKS_DIR.rglob("*.py"))


def notebook_sources(lang: str = "zh") -> dict[str, list[str]]:
    """Every notebook's markdown cells, by stem: what the narrative catalogs must translate."""
    import nbformat

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
        head = f"# {po.stem} in {language_spec(lang).name}: imported from {po.name} (python -m analysis.presentation.catalogs import-po)\n"
        path.write_text(head + yaml.safe_dump(pairs, allow_unicode=True, width=120, sort_keys=False), encoding="utf-8")
        written.append(path)
    messages.cache_clear()
    narrative.cache_clear()
    return written


def main(argv=None) -> int:
    """``python -m analysis.presentation.catalogs missing zh``: print the messages and markdown cells without a
    translation, as YAML entries to fill in. ``python -m analysis.presentation.catalogs pseudo DIR``: write the
    pseudo-language's catalogs into ``DIR/qps`` (then ``MALLWAKE_LOCALES=DIR mallwake run -p lang=qps``).
    ``po zh DIR``: the catalogs of ``zh`` as gettext ``.po`` files for translators' tools;
    ``import-po zh FILE.po ...``: their translations back into the YAML catalogs."""
    ap = argparse.ArgumentParser(prog="python -m analysis.presentation.catalogs")
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
