"""The layer contract (issue 27): four subpackages, imports only downward.

``pyproject.toml`` declares the layers (``analysis.application`` > ``presentation`` >
``statistics`` > ``data``, imports only downward) for import-linter, and this test fails on
any module that imports a layer above its own (the baseline of upward imports the move started
from, 24 pairs, is empty since the statistics say things in codes).
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "analysis"


def broken_imports() -> set[str]:
    """``importer -> imported`` for each pair of modules that breaks the layer contract."""
    lint = Path(sys.executable).parent / "lint-imports"
    res = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert "Contracts" in res.stdout, res.stdout + res.stderr  # it ran and read the contract
    return {f"{a} -> {b}" for a, b in re.findall(r"^- (analysis[\w.]*) -> (analysis[\w.]*) \(l\.", res.stdout, re.M)}


def test_no_module_imports_a_layer_above_its_own():
    found = sorted(broken_imports())
    assert not found, "imports that go up a layer (move the code, or pass what it needs down):\n" + "\n".join(found)


def test_importing_the_package_has_no_side_effects():
    """``import analysis`` (also inside a kernel) defines the package and nothing else: no module of
    its own imported, no display hook registered, no warning filter changed."""
    code = (
        "import sys, warnings, ipykernel; before = list(warnings.filters); import analysis; "
        "print(sorted(m for m in sys.modules if m.startswith('analysis.')), warnings.filters == before)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[] True", out


def test_every_notebook_sets_itself_up_in_one_call():
    """One set-up call (``analysis.application.notebook.start``), not a set-up cell copied into each notebook."""
    from analysis.data.config import NOTEBOOKS_DIR

    sources = sorted(p for p in NOTEBOOKS_DIR.rglob("*.py") if ".ipynb_checkpoints" not in p.parts)
    assert len(sources) >= 10
    for path in sources:
        text = path.read_text(encoding="utf-8")
        assert text.count("data = start(data_dir, as_of, lang") == 1, path.name
        assert "configure(" not in text and "load_dataset(data_dir" not in text, path.name


def test_every_phrase_the_statistics_give_has_its_words():
    """The statistics say why an analysis does not apply, what an estimate is and what limits a
    verdict with a code (``NotApplicable("clv.few_repeaters", n=..)``, ``Phrase.of("claim1.no_list", ..)``);
    presentation holds the words per code, in every language. A code used with no words, or words
    no code uses, fails here; each renders in English and in Chinese with sample values."""
    import ast
    import string

    from analysis.data.config import PACKAGE_DIR
    from analysis.data.errors import NotApplicable
    from analysis.presentation import formats
    from analysis.presentation.phrases import PHRASES, phrase_text

    codes = set()
    for path in (PACKAGE_DIR / "statistics").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            called = getattr(node.func, "id", None) or getattr(node.func, "attr", None) if isinstance(node, ast.Call) else None
            if called in ("NotApplicable", "Phrase", "of") and node.args:
                arg = node.args[0]
                if isinstance(arg, ast.JoinedStr):  # f"risk.one_class_{window}" over ("training", "test")
                    codes |= {c for c in PHRASES if c.startswith(arg.values[0].value)}
                else:  # a code, or a choice of codes (``a if .. else b``)
                    found = [n.value for n in ast.walk(arg) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
                    found = [c for c in found if "." in c]  # codes are dotted; not the columns a condition reads
                    assert found, ast.dump(arg)
                    codes |= set(found)
    codes = {c for c in codes if not c.startswith("label.")}  # a column's label as a value: its words are the label's
    assert len(codes) >= 15 and codes | {"none"} == set(PHRASES), sorted((codes | {"none"}) ^ set(PHRASES))
    values = {"n": 12, "needed": 30, "need": 50, "min": 3, "start": "2024-01-01", "first": None, "train": "2024-01-01"}
    values |= {"days": 180, "asleep": 0, "end": "2024-01-01", "model": "BG/NBD", "names": "a, b", "notes": ""}
    values |= {"features": "x", "arm": "W1 / sms", "n_t": 1, "n_c": 2, "campaign": "W1", "date": "2024-01-01"}
    values |= {"tier": "gold", "alternative": "entertainment", "reference": "daily", "factor": "gift", "error": "x"}
    values |= {"gifts": ("daily", "entertainment"), "channels": ("sms", "call"), "gift": "entertainment", "control": "holdout"}
    values |= {"estimate": 1.5, "low": -1.0, "high": 2.0, "difference": -3.0, "direction": "lower", "naive": 0.1}
    values |= {"rate_verdict": "supported", "cost_verdict": "not enough evidence", "missing": (("W1", "sms"),), "holdout": 0.02}
    values |= {"rules": ("present", "duplicate"), "column": "phone_valid", "why": NotApplicable("claim3.no_costs")}
    values |= {"covariates": ("tier_gold", "age"), "arms": ("sms", "call"), "chi2": 3.2, "p": 0.0004, "by": "tier"}
    values |= {"group": "tier", "alpha": 0.05, "mae": 0.123, "optimizer": "bfgs", "cond": 1e12, "actual": 30, "planned": 28}
    values |= {"margin": 0.3, "net": -2.5, "total": -2500.0, "spend": 4.0, "cost": 6.5, "level": 0.95, "area": 3.1}
    values |= {"returns": 12.5, "rule": NotApplicable("uplift.ranked_by.margin"), "covariate": "age"}
    values |= {"fitted": 20_000, "members": 692_294}
    values |= {"campaigns": (NotApplicable("campaigns.window_ends", campaign="W1", end="2024-02-01"),)}
    for lang in ("en", "zh"):
        formats.configure(lang=lang)
        try:
            for code, (template, _) in PHRASES.items():
                wanted = {f for _, f, _, _ in string.Formatter().parse(template) if f} - {"window"}
                text = phrase_text(NotApplicable(code, **{k: values[k] for k in wanted}))
                assert text and "{" not in text, (lang, code, text)
                chinese = any("\u4e00" <= ch <= "\u9fff" for ch in text)
                assert chinese == (lang == "zh"), (lang, code, text)
        finally:
            formats.configure(lang="en")


#: Imports inside a function that stay there, each with its reason. Everything else a function
#: needs from the package or the standard library is imported at the top of its module (the
#: import-linter contracts then see every dependency: no hidden cycle). Third-party libraries that
#: are optional or heavy (DuckDB, PostgreSQL, Spark, scikit-learn, fontTools, IPython, ...) load on
#: use, and the command line imports each command's modules when it runs (it starts in ~20 ms).
LAZY_ON_PURPOSE = {
    # the kernel zygote registers display hooks only when a notebook already imported the package
    ("application/kernelfork.py", "analysis.presentation.display"),
}


def test_functions_import_the_package_and_the_standard_library_only_at_the_top():
    import ast

    found = []
    for path in sorted((ROOT / "src" / "analysis").rglob("*.py")):
        rel = path.relative_to(ROOT / "src" / "analysis").as_posix()
        if rel == "application/cli.py":
            continue
        for fn in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(fn):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    module = node.module if isinstance(node, ast.ImportFrom) else node.names[0].name
                    top = (module or "").split(".")[0]
                    if (top == "analysis" or top in sys.stdlib_module_names) and (rel, module) not in LAZY_ON_PURPOSE:
                        found.append(f"{rel}:{node.lineno}: {ast.unparse(node)}")
    assert not found, "move these imports to the top of their module:\n" + "\n".join(found)


def test_words_for_readers_write_their_numbers_through_the_locale():
    """A number the presentation layer (or an export, the monthly text) puts into words goes through
    the language's locale (``tr``'s templates or ``i18n.number``), never a Python format spec in an
    f-string, which writes ``1,234.5`` in every language. Error and log messages (operators' English)
    and the locale formatter itself are exempt."""
    files = [
        *sorted((SRC / "presentation").rglob("*.py")),
        *(SRC / "application" / f"{n}.py" for n in ("exports", "monthly", "handout")),
    ]
    exempt = {SRC / "presentation" / "numbers.py"}
    found = []
    for path in files:
        if path in exempt:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        operators = set()  # nodes inside a raise, or a call that logs or prints
        for node in ast.walk(tree):
            called = isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) in {
                "log",
                "print",
                "warn",
            }
            if isinstance(node, ast.Raise) or called:
                operators |= {id(n) for n in ast.walk(node)}
        for node in ast.walk(tree):
            if isinstance(node, ast.FormattedValue) and node.format_spec is not None and id(node) not in operators:
                found.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert not found, f"numbers formatted by Python, not the locale: {found}"


def test_the_statistics_import_no_whole_library_namespace():
    """Every kernel imports the statistics layer before its first cell (the zygote does, and the
    first two kernels wait for it): ``statsmodels.api`` (every model statsmodels has, 0.65 s) is
    not imported; the classes come from their own modules."""
    code = (
        "import sys, analysis.statistics.campaigns, analysis.statistics.lifecycle, analysis.statistics.claims; "
        "print('statsmodels.api' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False", out
