"""One protocol for every analysis result, as lifelines has one for every fitter.

A result (an effect estimate, a fitted model, a list with its funnel) is a frozen dataclass that
inherits :class:`Result` and answers the same questions the same way:

* ``table()`` - a DataFrame; estimates use the standard columns ``estimate``, ``se``, ``ci_low``,
  ``ci_high``, ``p_value`` (never ``lower``/``upper`` or ``std_error``);
* ``summary()`` - a DataFrame too (the statsmodels fit, where there is one, stays on ``.fit``);
* ``conf_int(alpha=None)`` - ``ci_low`` and ``ci_high`` per row of the table, at the result's own
  ``alpha`` unless another is asked for (results that cannot recompute at another level say so);
* ``kinds`` - the kind of each column of the table, declared once; the presentation layer shows a
  result (:func:`analysis.presentation.display.result_html`, the notebook kernel's HTML
  formatter): a result holds numbers and codes, never words in a language.

``tests/test_results.py`` runs every result class of the package through this protocol.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import pandas as pd

#: The significance level of a result that does not state its own.
DEFAULT_ALPHA = 0.05
#: Column names of estimates in every table.
STANDARD_COLUMNS = ("estimate", "se", "ci_low", "ci_high", "p_value")
#: Names the protocol replaces (and the protocol test refuses).
NON_STANDARD_COLUMNS = ("lower", "upper", "std_error", "std_err", "pvalue", "p")


@dataclass(frozen=True)
class Phrase:
    """Something a result says in words, kept neutral: a ``code`` and the ``values`` it needs
    (numbers, dates, names, or other phrases). The presentation layer writes it in the report's
    language (:func:`analysis.presentation.phrases.phrase_text`); metrics keep the code."""

    code: str
    values: dict = field(default_factory=dict)

    @classmethod
    def of(cls, code: str, **values) -> Phrase:
        return cls(code, values)


class Result:
    """Base of every result class (see the module's docstring)."""

    #: The kind of each column of ``table()`` for the presentation layer (others are inferred).
    kinds: ClassVar[dict[str, str]] = {}

    @property
    def level(self) -> float:
        """Significance level of the result's intervals: its ``alpha`` field, else 0.05. (Not a
        class attribute named ``alpha``: dataclasses would take it as that field's default.)"""
        return float(getattr(self, "alpha", DEFAULT_ALPHA))

    def table(self) -> pd.DataFrame:  # pragma: no cover - every subclass defines it
        raise NotImplementedError

    def summary(self) -> pd.DataFrame:
        """The result as one DataFrame (its table, unless a subclass has more to say)."""
        return self.table()

    def conf_int(self, alpha: float | None = None) -> pd.DataFrame:
        """``ci_low`` and ``ci_high`` per row of :meth:`table` at ``alpha`` (default: the result's).

        From ``estimate`` and ``se`` (normal approximation) where the table has them and another
        level is asked for; otherwise the table's own interval columns.
        """
        level = self.level if alpha is None else float(alpha)
        t = self.table()
        if level == self.level and {"ci_low", "ci_high"} <= set(t.columns):
            return t[["ci_low", "ci_high"]].copy()
        if {"estimate", "se"} <= set(t.columns):
            from scipy import stats  # loaded when an interval is asked for: the protocol module stays light

            z = stats.norm.ppf(1 - level / 2)
            return pd.DataFrame({"ci_low": t["estimate"] - z * t["se"], "ci_high": t["estimate"] + z * t["se"]}, index=t.index)
        raise NotImplementedError(f"{type(self).__name__} has intervals at alpha={self.level} only")
