"""Render executed notebooks to self-contained HTML and build the report index."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import nbformat
from nbconvert import HTMLExporter
from nbconvert.preprocessors import TagRemovePreprocessor

from .config import PACKAGE_DIR
from .report import METRICS_MIME

TEMPLATE_DIR = PACKAGE_DIR / "templates"
HIDDEN_TAGS = {"injected-parameters", "parameters", "hide"}
_HEADING = re.compile(r'<h([1-3]) id="([^"]+)">(.*?)</h\1>', re.S)


def _toc(body: str) -> str:
    items = []
    for level, anchor, inner in _HEADING.findall(body):
        text = re.sub(r"<[^>]+>", "", inner).replace("¶", "").strip()
        if level == "1":
            continue  # the title
        items.append(f'<li class="mw-l{level}"><a href="#{anchor}">{text}</a></li>')
    if not items:
        return ""
    return '<nav class="mw-toc"><b>Contents</b><ul>' + "".join(items) + "</ul></nav>"


def provenance_html(prov: dict) -> str:
    """The provenance block shown at the end of every report."""
    rows = []
    for key, value in prov.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items())
        rows.append(f"<tr><td><b>{html.escape(str(key))}</b></td><td>{html.escape(str(value))}</td></tr>")
    return (
        '<details class="mw-provenance" open><summary><b>Provenance</b>: how this report was made</summary>'
        f"<table>{''.join(rows)}</table></details>"
    )


def render_html(nb_path: Path, out_path: Path, *, show_code: bool, run_label: str, provenance: dict) -> Path:
    """Render one executed notebook to a standalone, offline HTML file."""
    nb = nbformat.read(nb_path, as_version=4)
    for cell in nb.cells:  # headline figures go to metrics.json, not into the page
        if cell.get("outputs"):
            cell.outputs = [o for o in cell.outputs if METRICS_MIME not in o.get("data", {})]
    exporter = HTMLExporter(
        template_name="mallwake",
        extra_template_basedirs=[str(TEMPLATE_DIR)],
        exclude_input=not show_code,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        embed_images=True,
    )
    exporter.register_preprocessor(TagRemovePreprocessor(remove_cell_tags=HIDDEN_TAGS, enabled=True), enabled=True)
    resources = {"mallwake": {"run_label": run_label, "provenance_html": provenance_html(provenance)}}
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    body = body.replace("<!--MALLWAKE-TOC-->", _toc(body), 1)
    tmp = out_path.with_suffix(".html.tmp")
    tmp.write_text(body, encoding="utf-8")
    tmp.replace(out_path)
    return out_path


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:,.3g}" if abs(value) < 1 else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return html.escape(str(value))


def _headline(metrics: dict, limit: int = 6) -> str:
    flat = [(k, v) for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return "<br>".join(f"{html.escape(k)}: {_fmt(v)}" for k, v in flat[:limit])


def build_index(reports_dir: Path) -> Path:
    """Write ``reports/index.html`` listing every run (newest first) and its reports."""
    reports_dir = Path(reports_dir)
    runs = []
    for run_file in reports_dir.glob("*/run.json"):
        try:
            runs.append(json.loads(run_file.read_text(encoding="utf-8")) | {"_dir": run_file.parent.name})
        except (OSError, json.JSONDecodeError):
            continue
    runs.sort(key=lambda r: r.get("finished", ""), reverse=True)
    parts = []
    for run in runs:
        status = run.get("status", "?")
        rows = []
        for nb in run.get("notebooks", []):
            link = f'<a href="{run["_dir"]}/{nb["name"]}.html">{html.escape(nb["title"])}</a>' if nb.get("html") else html.escape(nb["title"])
            err = f"<br><small>{html.escape(nb.get('error') or '')}</small>" if nb.get("error") else ""
            rows.append(
                f"<tr><td>{link}</td><td class='{nb['status']}'>{nb['status']}{err}</td>"
                f"<td>{nb.get('seconds', 0):.1f} s</td><td>{_headline(nb.get('metrics', {}))}</td></tr>"
            )
        parts.append(
            f"<section><h2>{html.escape(run['_dir'])} <span class='{status}'>{status}</span></h2>"
            f"<p>data: {html.escape(run.get('data_name', ''))} &middot; as of {html.escape(str(run.get('as_of', '')))} "
            f"&middot; finished {html.escape(run.get('finished', ''))} &middot; {run.get('seconds', 0):.1f} s</p>"
            "<table><tr><th>report</th><th>status</th><th>time</th><th>headline figures</th></tr>"
            + "".join(rows) + "</table></section>"
        )
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>mallwake reports</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }}
table {{ border-collapse: collapse; width: 100%; }} td, th {{ border-bottom: 1px solid #ddd; padding: 0.4em; text-align: left; vertical-align: top; }}
.ok {{ color: #1a7f37; }} .failed {{ color: #c62828; font-weight: bold; }} .skipped {{ color: #888; }}
</style></head><body>
<h1>mallwake reports</h1>
<p>Member analytics for shopping malls: every report below was executed by papermill from a notebook in
<code>notebooks/</code> and rendered offline. Open a report for its figures, narrative and provenance.</p>
{''.join(parts) if parts else '<p>No runs yet: <code>make report</code> builds one.</p>'}
</body></html>
"""
    out = reports_dir / "index.html"
    tmp = out.with_suffix(".html.tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(out)
    return out
