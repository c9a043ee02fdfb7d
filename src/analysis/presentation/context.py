"""How one report writes: its language, currency, display names and tier order.

A :class:`Context` is a value: the functions that turn numbers and codes into words take one
(``ctx=``) and write in it, and a table formats its cells in the context it was built in, even when
pandas renders it later. Code outside a notebook (the site, the monthly narrative, the index)
builds the context of the page it writes and passes it.

A notebook kernel renders one report, so its set-up call names that report's context once
(:func:`analysis.presentation.formats.configure`) and the notebook's cells, which pass none, write
in it (:func:`current`). That is the one piece of state, and only the notebook entry point sets it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from types import MappingProxyType

from babel import Locale, UnknownLocaleError

from analysis.presentation.languages import SOURCE, language


@dataclass(frozen=True, eq=False)
class Context:
    """The settings a report is written in. ``names``: display names of data labels (tiers, arms,
    channels, gifts, segments) in ``lang``; empty: the language's defaults. ``tiers``: the tier
    levels, lowest first (figures order and colour tiers by them)."""

    lang: str = SOURCE
    currency: str = ""
    names: Mapping[str, str] = field(default_factory=dict)
    tiers: tuple[str, ...] = ()

    def __post_init__(self):
        if self.lang != SOURCE:
            language(self.lang)  # a ValueError naming the choices for a language with no folder
        object.__setattr__(self, "names", MappingProxyType(dict(self.names)))
        object.__setattr__(self, "tiers", tuple(str(t) for t in self.tiers))


@cache
def known_locale(lang: str) -> Locale | None:
    """The Babel locale of a language folder (its ``language.yaml``'s ``locale``, else its HTML
    tag); ``None`` for a language Babel does not know (a pseudo-language)."""
    spec = language(lang)
    try:
        return Locale.parse(spec.locale or spec.html, sep="-")
    except (UnknownLocaleError, ValueError):
        return None


def locale_of(lang: str) -> Locale:
    """The locale whose rules the numbers of ``lang`` follow: its own, else English's (digits and
    separators, no words)."""
    return known_locale(lang) or Locale.parse("en")


_kernel: Context | None = None


def current() -> Context:
    """The context of the report this kernel renders (:func:`set_current`); English and no
    currency until a notebook's set-up names one."""
    return _kernel if _kernel is not None else _source()


@cache
def _source() -> Context:
    return Context()


def set_current(ctx: Context) -> Context:
    """Names ``ctx`` as the context of the report this kernel renders (the notebook's set-up)."""
    global _kernel
    if not isinstance(ctx, Context):
        raise TypeError(f"expected a Context, got {type(ctx).__name__}")
    _kernel = ctx
    return ctx
