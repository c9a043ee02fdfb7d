"""Ship only the CSS a report page uses.

nbconvert's lab template inlines JupyterLab's whole stylesheet (about 240 KB) into every page;
a report uses a few dozen of its rules. :func:`prune_css` keeps, in each ``<style>`` block, the
rules whose selectors can match the page (every class they require is on some element of the
page) and the custom properties (``--jp-...``) those rules use, directly or through other
properties. The page stays self-contained and looks the same (a test compares screenshots).
"""

from __future__ import annotations

import functools
import re

import tinycss2

_STYLE = re.compile(r"(<style[^>]*>)(.*?)(</style>)", re.S | re.I)
_CLASS_ATTR = re.compile(r"""\sclass\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.I)
_NOT = re.compile(r":not\([^()]*\)")
_CLASS = re.compile(r"\.(-?[_a-zA-Z][-_a-zA-Z0-9]*)")
_VAR_USE = re.compile(r"var\(\s*(--[-_a-zA-Z0-9]+)")


def page_classes(page: str) -> set[str]:
    """Every class name on an element of ``page``."""
    return {c for a, b in _CLASS_ATTR.findall(page) for c in (a or b).split()}


def _selector_matches(selector: str, classes: set[str]) -> bool:
    """Whether the page may have an element this selector matches: every class it requires is on
    some element (classes inside ``:not(...)`` are not required)."""
    required = _CLASS.findall(_NOT.sub("", selector))
    return all(c in classes for c in required)


def _prune_rules(rules, classes: set[str]) -> list:
    kept = []
    for rule in rules:
        if rule.type == "qualified-rule":
            selectors = [s.strip() for s in tinycss2.serialize(rule.prelude).split(",")]
            matching = [s for s in selectors if s and _selector_matches(s, classes)]
            if matching:
                kept.append((", ".join(matching), tinycss2.serialize(rule.content)))
        elif rule.type == "at-rule" and rule.lower_at_keyword in ("media", "supports") and rule.content is not None:
            inner = _prune_rules(tinycss2.parse_rule_list(rule.content, skip_comments=True, skip_whitespace=True), classes)
            if inner:
                kept.append((f"@{rule.at_keyword} {tinycss2.serialize(rule.prelude).strip()}", inner))
        elif rule.type == "at-rule" and rule.lower_at_keyword in ("keyframes", "-webkit-keyframes"):
            continue  # nothing animates on a static page
        elif rule.type == "at-rule":
            kept.append((None, tinycss2.serialize([rule])))
    return kept


def _declarations(kept) -> list[str]:
    out = []
    for _head, body in kept:
        if isinstance(body, list):
            out += _declarations(body)
        else:
            out.append(body)
    return out


def _drop_unused_properties(kept, used: set[str]) -> list:
    out = []
    for head, body in kept:
        if isinstance(body, list):
            out.append((head, _drop_unused_properties(body, used)))
            continue
        if head is None:
            out.append((head, body))
            continue
        decls = tinycss2.parse_blocks_contents(body, skip_comments=True, skip_whitespace=True)
        parts = []
        for d in decls:
            if d.type != "declaration":
                continue
            if d.name.startswith("--") and d.name not in used:
                continue
            parts.append(f"{d.name}:{tinycss2.serialize(d.value).strip()}{' !important' if d.important else ''}")
        if parts:
            out.append((head, ";".join(parts)))
    return out


def _serialize(kept) -> str:
    out = []
    for head, body in kept:
        if head is None:
            out.append(body)
        elif isinstance(body, list):
            out.append(f"{head}{{{_serialize(body)}}}")
        else:
            out.append(f"{head}{{{body}}}")
    return "\n".join(out)


def _used_properties(kept, page: str) -> set[str]:
    """Custom properties used by the kept rules (and by the properties they use) and by inline styles."""
    decls = _declarations(kept)
    definitions: dict[str, list[str]] = {}
    uses: set[str] = set(_VAR_USE.findall(" ".join(re.findall(r'style="([^"]*)"', page))))
    for body in decls:
        for d in tinycss2.parse_blocks_contents(body, skip_comments=True, skip_whitespace=True):
            if d.type != "declaration":
                continue
            value = tinycss2.serialize(d.value)
            if d.name.startswith("--"):
                definitions.setdefault(d.name, []).append(value)
            else:
                uses.update(_VAR_USE.findall(value))
    todo, seen = list(uses), set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for value in definitions.get(name, []):
            todo.extend(_VAR_USE.findall(value))
    return seen


@functools.lru_cache(maxsize=16)
def _parsed(stylesheet: str) -> tuple:
    """A stylesheet's rules, parsed once per process (every page of a run carries the same ones)."""
    return tuple(tinycss2.parse_stylesheet(stylesheet, skip_comments=True, skip_whitespace=True))


def prune_css(page: str) -> str:
    """``page`` with each ``<style>`` block cut to the rules that can apply to it."""
    classes = page_classes(page)
    blocks = [(m, _prune_rules(_parsed(m.group(2)), classes)) for m in _STYLE.finditer(page)]
    used = _used_properties([r for _, kept in blocks for r in kept], page)
    out, last = [], 0
    for m, kept in blocks:
        out.append(page[last : m.start()])
        out.append(m.group(1) + _serialize(_drop_unused_properties(kept, used)) + m.group(3))
        last = m.end()
    out.append(page[last:])
    return "".join(out)
