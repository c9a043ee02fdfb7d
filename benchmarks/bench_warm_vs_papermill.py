"""Benchmark: the warm demo run against plain papermill + nbconvert, side by side (issue 29).

The same six report notebooks on the demo data, two at a time, both ways:

* **plain**: for each notebook ``papermill NB OUT.ipynb -p data_dir ... -p lang en`` and then
  ``jupyter nbconvert --to html OUT.ipynb`` (what a team without mallwake would script), two
  notebooks at a time;
* **mallwake**: ``mallwake run --force --jobs 2`` on a warm stage (the data already validated and
  staged by an earlier run, as on every run after the first): the same notebooks executed and
  rendered, the index rebuilt.

The two alternate ``--repeat`` times (plain, mallwake, plain, mallwake, ...) so that a busy moment
of the machine hits both; the ratio is the median of the per-pair ratios.

Usage: python benchmarks/bench_warm_vs_papermill.py [--repeat 3]
Writes benchmarks/results/warm_vs_papermill.json and prints it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parent
BIN = Path(sys.executable).parent
DEMO = PROJECT / "data" / "demo"
NOTEBOOKS = sorted((PROJECT / "notebooks").glob("0*.ipynb"))


def _run(cmd: list[str], cwd: Path) -> None:
    res = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if res.returncode:
        raise SystemExit(f"{' '.join(map(str, cmd))} failed ({res.returncode}):\n{res.stdout[-2000:]}\n{res.stderr[-2000:]}")


def plain(out: Path) -> float:
    """papermill then nbconvert for each notebook, two notebooks at a time."""
    out.mkdir(parents=True, exist_ok=True)

    def one(nb: Path) -> None:
        executed = out / nb.name
        _run(
            [str(BIN / "papermill"), str(nb), str(executed), "-p", "data_dir", str(DEMO), "-k", "python3", "--no-progress-bar"],
            nb.parent,
        )
        _run([str(BIN / "jupyter"), "nbconvert", "--to", "html", str(executed)], out)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(one, NOTEBOOKS))
    return time.perf_counter() - started


def mallwake(out: Path) -> float:
    started = time.perf_counter()
    _run(
        [str(BIN / "mallwake"), "run", "--data", str(DEMO), "--out", str(out), "--force", "--jobs", "2", "--label", "bench"],
        PROJECT,
    )
    return time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    if not (DEMO / "truth.json").exists():
        _run([str(BIN / "mallwake"), "demo-data", "--out", str(DEMO)], PROJECT)
    work = Path(tempfile.mkdtemp(prefix="mallwake-bench-"))
    mallwake(work / "warmup")  # validates and stages the demo data once: the runs below are warm
    pairs = []
    for i in range(args.repeat):
        p = plain(work / f"plain-{i}")
        m = mallwake(work / f"mallwake-{i}")
        pairs.append({"plain_seconds": round(p, 1), "mallwake_seconds": round(m, 1), "ratio": round(m / p, 3)})
        print(pairs[-1], flush=True)
    result = {
        "cpus": os.cpu_count(),
        "notebooks": [nb.stem for nb in NOTEBOOKS],
        "pairs": pairs,
        "median_ratio": statistics.median(p["ratio"] for p in pairs),
        "median_plain_seconds": statistics.median(p["plain_seconds"] for p in pairs),
        "median_mallwake_seconds": statistics.median(p["mallwake_seconds"] for p in pairs),
    }
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "warm_vs_papermill.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
