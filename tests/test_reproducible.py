"""Same data, parameters and seed, same numbers (issue 25): every report run twice, the second
time with the notebooks in the opposite order and one job, gives identical metrics.json."""

import json

import pytest

from analysis.application.parameters import discover_notebooks
from analysis.application.runner import run_reports

#: Keys that describe the run rather than the data (none may hold a computed figure).
RUN_KEYS = {"run_time", "elapsed", "execution_time"}


def _metrics(out):
    return {
        p.name: {k: v for k, v in json.loads(p.read_text()).items() if k not in RUN_KEYS}
        for p in sorted(out.glob("*.metrics.json"))
    }


@pytest.mark.slow
def test_every_report_twice_in_another_order_gives_identical_metrics(small_mall, tmp_path):
    stems = [nb.stem for nb in discover_notebooks()]
    first = run_reports(small_mall, out_dir=tmp_path / "a", jobs=2, only=stems, label="one", log=lambda *_: None)
    second = run_reports(
        small_mall, out_dir=tmp_path / "b", jobs=1, only=stems[::-1], label="one", force=True, log=lambda *_: None
    )
    assert all(n.status == "ok" for n in first.notebooks + second.notebooks)
    a, b = _metrics(first.out_dir), _metrics(second.out_dir)
    assert len(a) == len(stems) and a.keys() == b.keys()
    for name in a:
        assert a[name] == b[name], name
