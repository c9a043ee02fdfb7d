"""Benchmark: demo generation, full `mallwake run`, time per notebook, peak memory.

Usage: python benchmarks/bench_run.py --members 50000 [--members 1000000] [--jobs 2] [--cold] [--data DIR]
``--cold`` runs with an empty cache (no cached validation, stage, model fits, features or notebook
times: a first run on a new machine); ``--data`` reuses a generated mall instead of generating it.
Writes benchmarks/results/run_<members>_jobs<jobs>[_cold].json and prints it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent


_WRAP = (
    "import resource, subprocess, sys, time; t = time.perf_counter(); "
    "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL); "
    "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def _timed(cmd: list[str], env: dict | None = None) -> tuple[float, float]:
    """Wall seconds and peak RSS (GB) of the largest process the command ran.

    A fresh wrapper process runs the command, so the peak is this command's alone (the
    kernels papermill starts are its descendants and are counted).
    """
    out = subprocess.run([sys.executable, "-c", _WRAP, *cmd], check=True, capture_output=True, text=True, env=env)
    seconds, peak_kb = out.stdout.split()
    return float(seconds), int(peak_kb) / 1024**2


def bench(members: int, jobs: int, skip_run: bool, cold: bool = False, data: Path | None = None) -> dict:
    result: dict = {"members": members, "cold": cold}
    if data is None:
        data = HERE / "data" / f"mall_{members}"
        gen_s, gen_gb = _timed([str(BIN / "mallwake"), "demo-data", "--members", str(members), "--out", str(data)])
        result |= {"generate_seconds": round(gen_s, 1), "generate_peak_gb": round(gen_gb, 2)}
    env = {**os.environ, "MALLWAKE_CACHE_DIR": tempfile.mkdtemp(prefix="bench-cache-")} if cold else None
    sizes = {p.name: p.stat().st_size for p in data.iterdir()}
    result["data_mb"] = round(sum(sizes.values()) / 1e6, 1)
    if not skip_run:
        out = HERE / "data" / f"reports_{members}"
        run_s, run_gb = _timed(
            [
                str(BIN / "mallwake"),
                "run",
                "--data",
                str(data),
                "--out",
                str(out),
                "--label",
                "bench",
                "--jobs",
                str(jobs),
                "--force",
            ],
            env=env,
        )
        run = json.loads((out / "bench" / "run.json").read_text())
        result |= {
            "run_seconds": round(run_s, 1),
            "run_peak_gb": round(run_gb, 2),
            "jobs": jobs,
            "notebook_run_seconds": round(run["seconds"], 1),
            "prepare_seconds (validate + stage)": run.get("prepare_seconds"),
            "per_notebook_seconds": {n["name"]: round(n["seconds"], 1) for n in run["notebooks"]},
            "per_notebook_timing": {n["name"]: n.get("timing", {}) for n in run["notebooks"]},
        }
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--members", type=int, action="append")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--skip-run", action="store_true")
    ap.add_argument("--cold", action="store_true", help="an empty cache: nothing validated, staged or fitted before")
    ap.add_argument("--data", type=Path, help="a generated mall to run on (one --members: its size) instead of generating one")
    args = ap.parse_args()
    (HERE / "results").mkdir(exist_ok=True)
    for n in args.members or [50_000]:
        res = bench(n, args.jobs, args.skip_run, args.cold, args.data)
        name = f"run_{n}_jobs{args.jobs}{'_cold' if args.cold else ''}.json"
        (HERE / "results" / name).write_text(json.dumps(res, indent=2) + "\n")
        print(json.dumps(res))


if __name__ == "__main__":
    main()
