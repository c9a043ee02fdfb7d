"""The languages of the reports: one folder per language under ``analysis/locales/``.

Each folder holds ``language.yaml`` (the language's name in itself, its HTML language code,
whether its pages need the embedded CJK font, optionally the Babel ``locale`` whose number and date
rules it follows) and its message catalogs (``messages.yaml``, one
``<notebook>.yaml`` per report). English is the source language: the message ids are English, so
its folder has only ``language.yaml``. Adding a language is adding a folder; every list of
languages (the ``--lang`` choices, the index pages, the language switch, the definitions pages)
is :func:`languages`; ``MALLWAKE_LOCALES`` adds folders kept outside the package
(:mod:`analysis.data.config`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

import yaml

from analysis.data.config import SOURCE_LANGUAGE as SOURCE
from analysis.data.config import language_folders, languages

__all__ = ["SOURCE", "Language", "folder", "language", "languages", "page_name"]


@dataclass(frozen=True)
class Language:
    code: str  # the folder's name, as --lang takes it
    name: str  # in the language itself
    html: str  # the HTML lang attribute
    cjk: bool = False  # pages and figures need the embedded CJK font
    locale: str = ""  # the Babel locale of its numbers and dates (default: the HTML tag)


@cache
def _languages() -> dict[str, Language]:
    found = {}
    for code in languages():
        path = folder(code) / "language.yaml"
        spec = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        tag = str(spec.get("html") or code)
        if not re.fullmatch(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*", tag):  # written into lang="..." attributes
            raise ValueError(f"{path}: html must be a language tag such as zh-CN, got {tag!r}")
        found[code] = Language(code, str(spec["name"]), tag, bool(spec.get("cjk")), str(spec.get("locale") or ""))
    return found


def language(code: str) -> Language:
    """The language ``code`` (``ValueError`` naming the choices when there is no such folder)."""
    try:
        return _languages()[str(code)]
    except KeyError:
        raise ValueError(f"language {code!r} is not supported; one of {', '.join(languages())}") from None


def folder(code: str):
    """The folder of language ``code``: its ``language.yaml`` and catalogs."""
    return language_folders()[code]


def page_name(stem: str, code: str) -> str:
    """The file of a site-wide page in a language: ``index.html``, ``index.zh.html``."""
    return f"{stem}.html" if code == SOURCE else f"{stem}.{code}.html"
