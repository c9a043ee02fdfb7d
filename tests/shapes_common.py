"""Shared checks of the data-shape matrix (tests/test_shapes_*.py): every notebook on every shape."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

from analysis.application.monthly import last_complete_month
from analysis.application.parameters import discover_notebooks
from analysis.application.runner import run_months, run_reports
from analysis.data.config import MONTHLY_NOTEBOOK, TEACHING_DIR

#: What a table cell must never read in a report.
BAD_CELLS = {"nan", "NaN", "NaT", "None", "inf", "-inf", "<NA>"}


class _Cells(HTMLParser):
    def __init__(self):
        super().__init__()
        self.inside, self.text, self.bad = False, "", []

    def handle_starttag(self, tag, attrs):
        if tag in ("td", "th"):
            self.inside, self.text = True, ""

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.inside:
            self.inside = False
            if self.text.strip() in BAD_CELLS:
                self.bad.append(self.text.strip())

    def handle_data(self, data):
        if self.inside:
            self.text += data


def bad_cells(page: Path) -> list[str]:
    parser = _Cells()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser.bad


def run_everything(data: Path, out: Path, **params) -> list[str]:
    """Run every notebook and the latest monthly report on ``data``; return what is wrong."""
    from analysis.data.dataset import load_dataset

    problems = []
    res = run_reports(data, out_dir=out, jobs=2, params=params, log=lambda *_: None)
    problems += [f"{n.name}: {n.error}" for n in res.notebooks if n.status != "ok"]
    for label, extra in (("teaching", {}), ("teaching-key", {"show_solutions": "true"})):  # the students' and the answer key
        t = run_reports(data, out_dir=out, jobs=2, params=extra, label=label, notebooks_dir=TEACHING_DIR, log=lambda *_: None)
        problems += [f"{label} {n.name}: {n.error}" for n in t.notebooks if n.status != "ok"]
    month = last_complete_month(load_dataset(data))
    months = run_months(data, [month], out_dir=out, log=lambda *_: None)
    problems += [f"monthly {m.label}: {[n.error for n in m.notebooks]}" for m in months if not m.ok]
    expected = [nb.stem for nb in discover_notebooks()]
    for stem in expected:
        for suffix in (".html", ".metrics.json"):
            if not (res.out_dir / f"{stem}{suffix}").is_file():
                problems.append(f"{stem}{suffix} missing")
    for m in months:
        if not (m.out_dir / f"{MONTHLY_NOTEBOOK.stem}.metrics.json").is_file():
            problems.append(f"{m.label} metrics missing")
    for page in sorted(out.rglob("*.html")):
        if bad := bad_cells(page):
            problems.append(f"{page.relative_to(out)}: cells read {sorted(set(bad))}")
    return problems
