"""Chinese that reads on any machine: the page embeds the glyphs it uses.

A report in Chinese opened on a computer without a CJK system font shows every character of its
text as an empty box (its figures are right: matplotlib draws them with the Noto Sans CJK SC font
of the ``mplfonts`` package). :func:`embed_cjk_font` puts a subset of that same font into the
page as a web font: only the glyphs of the CJK characters the page contains (a monthly report
uses about 130 of them: 37 KB as WOFF, 50 KB added to a 398 KB page, 0.3 s;
benchmarks/RESULTS.md), as a ``data:`` URL, so
the site stays offline and its Content-Security-Policy (``font-src data:``) holds. Latin text
keeps the system's fonts: the subset has no Latin glyphs, so browsers fall through to the next
font of the stack.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import io
import re
from functools import lru_cache
from pathlib import Path

from analysis.data.storage import atomic_write
from analysis.data.validation import cache_root

#: The font of the figures (plots.use_language) and of the pages.
CJK_FONT_FILE = "NotoSansCJKsc-Regular.otf"
FAMILY = "Mallwake CJK"
#: The pages' font stack; the embedded family comes first and only covers the CJK characters.
STACK = (
    f'"{FAMILY}", system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif, '
    '"Apple Color Emoji", "Segoe UI Emoji"'
)
_DATA_URL = re.compile(r"data:[^\"')\s]+")
MARKER = "<!--mallwake-cjk-font-->"


@lru_cache(maxsize=1)
def cjk_font_path() -> Path | None:
    """The Noto Sans CJK SC font file shipped by ``mplfonts``, or ``None`` where it is missing.
    Found without importing ``mplfonts`` (its ``__init__`` imports matplotlib: 0.3 s for a path)."""
    spec = importlib.util.find_spec("mplfonts")
    for folder in (spec.submodule_search_locations or []) if spec is not None else []:
        path = Path(folder) / "fonts" / CJK_FONT_FILE
        if path.is_file():
            return path
    return None


def is_cjk(char: str) -> bool:
    """CJK ideographs, punctuation, kana, Hangul, and full-width forms (U+2E80 and above, below
    the private use area, plus the full-width forms block)."""
    code = ord(char)
    return (
        0x2E80 <= code <= 0x9FFF
        or 0xAC00 <= code <= 0xD7AF
        or 0xF900 <= code <= 0xFAFF
        or 0xFE30 <= code <= 0xFFEF
        or 0x20000 <= code <= 0x3FFFF
    )


def cjk_chars(page: str) -> set[str]:
    """The CJK characters of an HTML page (text, attributes, CSS), images' ``data:`` URLs left out."""
    return {c for c in _DATA_URL.sub("", page) if is_cjk(c)}


@lru_cache(maxsize=64)
def subset_woff(chars: frozenset[str], path: str) -> bytes:
    """The font at ``path`` cut down to ``chars``, as WOFF (kept in the cache folder by font and
    characters: a page rebuilt with the same characters, such as the index, costs no subsetting)."""
    font = Path(path)
    key = hashlib.sha256(f"{font.name}:{font.stat().st_size}:{''.join(sorted(chars))}".encode()).hexdigest()[:32]
    cached = cache_root() / "webfont" / f"{key}.woff"
    try:
        return cached.read_bytes()
    except OSError:
        pass
    data = _subset(chars, path)
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(cached, lambda tmp: Path(tmp).write_bytes(data))
    except OSError:  # a read-only cache: subset again next time
        pass
    return data


def _subset(chars: frozenset[str], path: str) -> bytes:
    from fontTools import subset
    from fontTools.ttLib import TTFont

    options = subset.Options()
    options.flavor = "woff"
    options.layout_features = ["*"]  # vertical forms, punctuation widths: cheap for a few hundred glyphs
    options.name_IDs = [1, 2]
    options.hinting = False
    options.desubroutinize = True
    options.notdef_outline = True
    font = TTFont(path, lazy=True)
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=sorted(ord(c) for c in chars))
    subsetter.subset(font)
    out = io.BytesIO()
    font.flavor = "woff"
    font.save(out)
    return out.getvalue()


def font_css(chars: set[str], path: Path) -> str:
    """The ``<style>`` with the ``@font-face`` of ``chars`` and the stack that uses it."""
    data = base64.b64encode(subset_woff(frozenset(chars), str(path))).decode("ascii")
    return (
        f'{MARKER}<style type="text/css">\n'
        f'@font-face {{ font-family: "{FAMILY}"; font-style: normal; font-weight: 100 900; font-display: block; '
        f'src: url(data:font/woff;base64,{data}) format("woff"); }}\n'
        f":root {{ --jp-content-font-family: {STACK}; --jp-ui-font-family: {STACK}; }}\n"
        f"body, table, th, td, .mw-header, nav.mw-toc, details.mw-provenance, h1, h2, h3, h4, p, li {{ font-family: {STACK}; }}\n"
        "</style>"
    )


def embed_cjk_font(page: str) -> str:
    """``page`` with the glyphs of its CJK characters embedded (unchanged when it has none, when it
    already embeds them, or when the font is not installed)."""
    if MARKER in page:
        return page
    chars = cjk_chars(page)
    path = cjk_font_path()
    if not chars or path is None or "</head>" not in page:
        return page
    return page.replace("</head>", font_css(chars, path) + "\n</head>", 1)
