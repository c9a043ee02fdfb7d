"""Benchmark: validating a data directory (uncached), and the content hashing that keys the caches.

Usage: python benchmarks/bench_validate.py --members 300000 [--members 1000000]
Generates the mall if absent (benchmarks/data/mall_<members>), then, each in a fresh process:
`mallwake validate` with an empty cache (wall time, peak RSS), and the SHA-256 content
fingerprint of the contract files alone. Writes benchmarks/results/validate_<members>.json.
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
sys.path.insert(0, str(HERE))
from bench_run import _timed  # noqa: E402  (one way to time a command and its peak memory)

_HASH = (
    "import sys, time; from pathlib import Path; from analysis.data.contract import present_files; "
    "from analysis.data.validation import fingerprint_files; files = list(present_files(Path(sys.argv[1])).values()); "
    "t = time.perf_counter(); fingerprint_files(files); "
    "print(time.perf_counter() - t, sum(p.stat().st_size for p in files))"
)


def bench(members: int, repeats: int) -> dict:
    data = HERE / "data" / f"mall_{members}"
    if not (data / "members.csv").exists():
        subprocess.run([str(BIN / "mallwake"), "demo-data", "--members", str(members), "--out", str(data)], check=True)
    runs = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as cache:  # an empty cache: a full, uncached validation
            env = os.environ | {"MALLWAKE_CACHE_DIR": cache}
            runs.append(_timed([str(BIN / "mallwake"), "validate", str(data), "--as-of", "2024-12-31"], env))
    hashed = [
        subprocess.run([sys.executable, "-c", _HASH, str(data)], check=True, capture_output=True, text=True).stdout.split()
        for _ in range(repeats)
    ]
    return {
        "members": members,
        "input_mb (contract files)": round(int(hashed[0][1]) / 1e6, 1),
        "validate_seconds": [round(s, 1) for s, _ in runs],
        "validate_peak_gb": [round(g, 2) for _, g in runs],
        "content_hash_seconds": [round(float(h[0]), 2) for h in hashed],
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--members", type=int, action="append")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    (HERE / "results").mkdir(exist_ok=True)
    for members in args.members or [300_000]:
        result = bench(members, args.repeats)
        (HERE / "results" / f"validate_{members}.json").write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
