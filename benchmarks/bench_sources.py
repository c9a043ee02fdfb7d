"""Benchmark: the same generated mall from files and from PostgreSQL (validate, full run; time and memory).

Usage: python benchmarks/bench_sources.py --members 1000000 [--jobs 2]
Starts a throw-away PostgreSQL cluster (tests/pgcluster.py), loads the mall into it with the
contract's types (``copy_to_postgres``), then times, each with an empty cache (no cached
validation, no stage): ``mallwake validate`` and ``mallwake run --force`` on the folder and on the
database (which a run reads once: validated, fingerprinted and copied in one snapshot, unless its
connection file says ``copy: false``). Memory is the peak RSS of the largest mallwake process (the command or a notebook
kernel); the PostgreSQL server's own memory is not counted. Writes
benchmarks/results/sources_<members>_jobs<jobs>.json and prints it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(HERE.parent / "tests"))

from bench_run import _timed  # noqa: E402


def bench(members: int, jobs: int) -> dict:
    import pgcluster

    from analysis.data.sources import copy_to_postgres

    data = HERE / "data" / f"mall_{members}"
    if not (data / "truth.json").exists():
        subprocess.run(
            [str(BIN / "mallwake"), "demo-data", "--members", str(members), "--out", str(data)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    result: dict = {"members": members, "jobs": jobs}
    with pgcluster.cluster() as url:
        t = time.perf_counter()
        rows = copy_to_postgres(data, url, schema="mall")
        result["load_into_postgres_seconds"] = round(time.perf_counter() - t, 1)
        result["rows"] = rows
        folder = Path(tempfile.mkdtemp(prefix="bench-source-"))
        conn = folder / "mall.yaml"
        conn.write_text(f"engine: postgres\nurl: {url}\nschema: mall\n")
        for name in ("mallwake.yaml", "preregistrations"):
            src = data / name
            if src.exists():
                subprocess.run(["cp", "-r", str(src), str(folder / name)], check=True)
        for kind, source in (("files", data), ("postgres", conn)):
            env = {**os.environ, "MALLWAKE_CACHE_DIR": tempfile.mkdtemp(prefix="bench-cache-")}  # nothing cached
            v_s, v_gb = _timed([str(BIN / "mallwake"), "validate", str(source)], env=env)
            out = HERE / "data" / f"reports_sources_{members}"
            r_s, r_gb = _timed(
                [
                    str(BIN / "mallwake"),
                    "run",
                    "--data",
                    str(source),
                    "--out",
                    str(out),
                    "--label",
                    kind,
                    "--jobs",
                    str(jobs),
                    "--force",
                ],
                env=env,
            )
            run = json.loads((out / kind / "run.json").read_text())
            result[kind] = {
                "validate_seconds": round(v_s, 1),
                "validate_peak_gb": round(v_gb, 2),
                "run_seconds": round(r_s, 1),
                "run_peak_gb": round(r_gb, 2),
                "prepare_seconds (files: validate + stage; postgres: fingerprint + validate + copy)": run.get("prepare_seconds"),
                "per_notebook_seconds": {n["name"]: round(n["seconds"], 1) for n in run["notebooks"]},
            }
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--members", type=int, default=1_000_000)
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    result = bench(args.members, args.jobs)
    out = HERE / "results" / f"sources_{args.members}_jobs{args.jobs}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
