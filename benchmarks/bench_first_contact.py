"""Benchmark: a new user's first contact, on a fresh clone of this repository.

1. `make report` on the fresh clone (install from uv.lock, demo data, five reports, one month),
   with an empty uv cache (``--cold``) or the machine's cache;
2. `make report` again with nothing changed (every report up to date);
3. a full `mallwake run --force --jobs 2` on the demo data with a warm stage, ``--repeat`` times,
   with each notebook's kernel start, set-up (imports, loading), analysis and rendering.

Usage: python benchmarks/bench_first_contact.py [--cold] [--repeat 3]
Writes benchmarks/results/first_contact.json and prints it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parent


def _timed(cmd: list[str], cwd: Path, env: dict) -> tuple[float, str]:
    t = time.perf_counter()
    res = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if res.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed ({res.returncode}):\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}")
    return time.perf_counter() - t, res.stdout + res.stderr


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cold", action="store_true", help="empty uv and pip caches (a machine that never installed)")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mallwake-first-"))
    clone = work / "mallwake"
    subprocess.run(["git", "clone", "-q", str(PROJECT), str(clone)], check=True)
    env = os.environ | {"MALLWAKE_CACHE_DIR": str(work / "cache")}
    if args.cold:
        env |= {"UV_CACHE_DIR": str(work / "uv-cache"), "PIP_NO_CACHE_DIR": "1"}
    result = {"cpus": os.cpu_count(), "cold_package_cache": args.cold}
    first, log = _timed(["make", "report"], clone, env)
    result["first_make_report_seconds"] = round(first, 1)
    result["first_make_report_steps"] = [
        ln for ln in log.splitlines() if ln.startswith(("Prepared", "Installed", "mallwake: data validated", "mallwake: run "))
    ]
    second, log = _timed(["make", "report"], clone, env)
    result["second_make_report_seconds"] = round(second, 1)
    result["second_make_report_said"] = [ln for ln in log.splitlines() if "up to date" in ln]
    runs = []
    for _ in range(args.repeat):
        seconds, _log = _timed(
            [str(clone / ".venv" / "bin" / "mallwake"), "run", "--data", "data/demo", "--force", "--jobs", "2"], clone, env
        )
        run = json.loads((clone / "reports" / "demo-latest" / "run.json").read_text())
        runs.append(
            {
                "wall_seconds": round(seconds, 1),
                "notebooks_seconds": round(run["seconds"], 1),
                "timing": {n["name"]: n.get("timing", {}) for n in run["notebooks"]},
            }
        )
    result["warm_full_run_wall_seconds"] = [r["wall_seconds"] for r in runs]
    result["warm_full_run_median_seconds"] = statistics.median(r["wall_seconds"] for r in runs)
    result["warm_full_run_timing_last"] = runs[-1]["timing"]
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "first_contact.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
