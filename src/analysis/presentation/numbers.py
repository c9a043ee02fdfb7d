"""Numbers written by a locale's rules (Babel's patterns: grouping, decimal sign, percent sign),
with the digits Python's rounding gives, so two languages differ only in their separators.

:func:`decimal_text` and :func:`percent_text` write one number; :data:`LOCALE_FORMATTER` formats a
message template (``"{n:,} members"``, ``"{share:.1%}"``) with its numeric fields written the same
way, so a sentence's numbers follow its language as a table's do.
"""

from __future__ import annotations

import math
import re
import string
from decimal import Decimal, localcontext
from numbers import Integral, Real

from babel import Locale
from babel.numbers import format_decimal, format_percent


def _pattern(base: str, places: int, signed: bool, grouped: bool = True) -> str:
    """The locale's number pattern ``base`` (its grouping, its percent sign and where it goes) with
    exactly ``places`` decimals, a sign on both sides when ``signed``, no grouping unless ``grouped``."""
    positive = base.split(";")[0]
    number = re.search(r"[#,0]*0(\.[0#]+)?", positive)
    whole = number.group(0).split(".")[0] if grouped else "0"
    digits = whole + ("." + "0" * places if places else "")
    positive = positive[: number.start()] + digits + positive[number.end() :]
    return f"+{positive};-{positive}" if signed else positive


def decimal_text(v: float, places: int, loc: Locale, signed: bool = False, grouped: bool = True) -> str:
    """``v`` with ``places`` decimals, grouped and separated as the locale writes numbers. Rounded as
    Python rounds the float (``f"{v:.{places}f}"``), then written by Babel: the digits are the same
    in every language, only the separators differ."""
    pattern = _pattern(loc.decimal_formats[None].pattern, places, signed, grouped)
    digits = f"{v:.{places}f}"
    with localcontext() as exact:  # every digit of a huge value (a diverged fit's 1e+30), never an error
        exact.prec = max(28, len(digits) + 2)
        return format_decimal(Decimal(digits), pattern, locale=loc, decimal_quantization=False)


def percent_text(v: float, places: int, loc: Locale, signed: bool = False, grouped: bool = True) -> str:
    """``v`` as a percentage with ``places`` decimals in the locale's form (``12.3%``, ``12,3 %``)."""
    pattern = _pattern(loc.percent_formats[None].pattern, places, signed, grouped)
    digits = f"{v * 100:.{places}f}"
    with localcontext() as exact:
        exact.prec = max(28, len(digits) + 4)
        return format_percent(Decimal(digits) / 100, pattern, locale=loc, decimal_quantization=False)


#: The format specs a message's number may carry that the locale writes: an optional ``+``, an
#: optional ``,`` (grouping), an optional precision, and ``f``, ``%``, ``d`` or nothing. Anything
#: else (widths, fills, ``e``, ``g``, ``x``) is Python's, as written.
_SPEC = re.compile(r"(?P<sign>\+?)(?P<group>,?)(?:\.(?P<places>\d+))?(?P<kind>[f%d]?)")


class LocaleFormatter(string.Formatter):
    """``str.format`` whose numeric fields follow a locale: ``{n:,}`` is ``1.234`` in German,
    ``{share:.1%}`` is ``12,3 %``. A field without a spec (``{year}``), a non-number, ``nan`` and
    ``inf`` are written as Python writes them."""

    def __init__(self, loc: Locale):
        self.loc = loc

    def format_field(self, value, format_spec):
        spec = _SPEC.fullmatch(format_spec) if format_spec else None
        if spec is None or isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
            return super().format_field(value, format_spec)  # nan and inf as Python writes them
        signed, grouped, kind = spec["sign"] == "+", spec["group"] == ",", spec["kind"]
        places = spec["places"]
        if kind == "d" or (not kind and places is None and isinstance(value, Integral)):
            if not isinstance(value, Integral):
                return super().format_field(value, format_spec)  # Python's ValueError for 'd' of a float
            return decimal_text(int(value), 0, self.loc, signed, grouped)
        if not kind:
            if places is not None:  # general format (significant digits): Python's, as written
                return super().format_field(value, format_spec)
            shown = format(value, format_spec)  # a float's shortest repr, e.g. 1,234.5
            places = len(shown.split(".")[1]) if "." in shown and "e" not in shown else None
            if places is None:
                return shown
            return decimal_text(float(value), places, self.loc, signed, grouped)
        places = 6 if places is None else int(places)
        write = percent_text if kind == "%" else decimal_text
        return write(float(value), places, self.loc, signed, grouped)
