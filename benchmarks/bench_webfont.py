"""Benchmark: the web font embedded in Chinese pages (analysis.presentation.webfont) — glyphs, bytes added, time.

Usage: python benchmarks/bench_webfont.py [REPORTS_DIR]   (default: reports/, after `make report`
and a Chinese month, e.g. `mallwake run --data data/demo --month latest --lang zh`)
Writes benchmarks/results/webfont.json and prints it.
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

from analysis.presentation.webfont import MARKER, cjk_chars, cjk_font_path, font_css, subset_woff

HERE = Path(__file__).resolve().parent


def main() -> None:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else HERE.parent / "reports")
    rows = []
    for page in sorted(root.rglob("*.html")):
        text = page.read_text(encoding="utf-8")
        if MARKER in text:  # measure the page as it would be without the font
            text = re.sub(re.escape(MARKER) + r"<style.*?</style>\n?", "", text, flags=re.S)
        chars = cjk_chars(text)
        if not chars:
            continue
        subset_woff.cache_clear()
        t = time.perf_counter()
        from analysis.presentation.webfont import _subset

        _subset(frozenset(chars), str(cjk_font_path()))  # the subsetting itself, not the cache
        css = font_css(chars, cjk_font_path())
        seconds = time.perf_counter() - t
        rows.append(
            {
                "page": str(page.relative_to(root)),
                "cjk_characters": len(chars),
                "woff_bytes": len(subset_woff(frozenset(chars), str(cjk_font_path()))),
                "page_bytes_without": len(text.encode()),
                "bytes_added": len(css.encode()),
                "seconds": round(seconds, 3),
            }
        )
    out = {"font": str(cjk_font_path().name), "font_bytes": cjk_font_path().stat().st_size, "pages": rows}
    (HERE / "results" / "webfont.json").write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
