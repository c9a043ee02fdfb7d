"""Safe with a mall's real data: no data loss, no stale or corrupt results, no injection.

Each test reproduces a case that went wrong before (issue 12) on a small generated mall.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import threading
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from analysis.application import cli, execution, runner
from analysis.application.runner import run_months, run_reports
from analysis.data.dataset import load_dataset, prepare_dataset, stage_path
from analysis.data.storage import RunLockedError, UnsafeNameError, check_label, locked, state_dir
from analysis.data.validation import validate_data_dir
from analysis.presentation.site import build_index

QUIET = {"log": lambda *_: None}


def _nb(path: Path, body: str) -> Path:
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        new_markdown_cell(f"# {path.stem}"),
        new_code_cell('data_dir: str = "../data/demo"\nas_of: str = ""\nexport_dir: str = ""', metadata={"tags": ["parameters"]}),
        new_code_cell(body),
    ]
    nbformat.write(nb, path)
    return path


@pytest.fixture
def two_notebooks(tmp_path) -> Path:
    d = tmp_path / "nbs"
    d.mkdir()
    _nb(d / "a_first.ipynb", "from analysis.presentation.report import record_metrics\nrecord_metrics(value=1)")
    _nb(
        d / "b_second.ipynb",
        "from pathlib import Path\nfrom analysis.presentation.report import record_metrics\n"
        "Path(export_dir, 'ids.txt').write_text('raw ids') if export_dir else None\nrecord_metrics(value=2)",
    )
    return d


# --- no data loss -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "label", ["", ".", "..", "../x", "a/b", "a\\b", "x y", "<b>", "a?b", "a#b", "100%", ".hidden", "run-failed", "x" * 101]
)
def test_unsafe_labels_are_refused(label):
    with pytest.raises(UnsafeNameError):
        check_label(label)


@pytest.mark.parametrize("label", ["..", ".", "../x"])
def test_cli_refuses_a_path_label_before_any_work(label, small_mall, tmp_path, capsys):
    out = tmp_path / "site" / "reports"
    out.mkdir(parents=True)
    (out / "keep.txt").write_text("earlier work")
    (tmp_path / "site" / "sibling.txt").write_text("not ours")
    rc = cli.main(["run", "--data", str(small_mall), "--out", str(out), "--label", label])
    assert rc == 2
    assert "not a plain name" in capsys.readouterr().err
    assert (out / "keep.txt").read_text() == "earlier work"
    assert (tmp_path / "site" / "sibling.txt").exists()
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]


def test_default_label_from_an_odd_folder_name_is_a_plain_name(small_mall, tmp_path, two_notebooks):
    odd = tmp_path / "mall A <2024>#1"
    shutil.copytree(small_mall, odd)
    res = run_reports(odd, out_dir=tmp_path / "r", notebooks_dir=two_notebooks, **QUIET)
    assert res.ok and check_label(res.label) == res.label and res.out_dir.parent == tmp_path / "r"


def test_only_updates_one_notebook_and_keeps_the_rest(small_mall, tmp_path, two_notebooks):
    out = tmp_path / "reports"
    full = run_reports(small_mall, out_dir=out, notebooks_dir=two_notebooks, label="m", jobs=2, **QUIET)
    assert full.ok
    exported = tmp_path / "exports" / "m" / "ids.txt"
    assert exported.read_text() == "raw ids" and not (out / "m" / "ids.txt").exists()
    first_html = (out / "m" / "a_first.html").read_text(encoding="utf-8")
    part = run_reports(small_mall, out_dir=out, notebooks_dir=two_notebooks, label="m", only=["b_second"], **QUIET)
    assert part.ok
    record = json.loads((out / "m" / "run.json").read_text())
    assert [n["name"] for n in record["notebooks"]] == ["a_first", "b_second"]
    assert (out / "m" / "a_first.html").read_text(encoding="utf-8") == first_html  # kept as it was
    assert (out / "m" / "b_second.html").exists() and exported.exists()
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "m/a_first.html" in index and "m/b_second.html" in index
    assert not [p for p in out.iterdir() if p.name.endswith((".partial", ".old"))]


def test_only_refuses_to_mix_data_versions(small_mall, tmp_path, two_notebooks):
    out = tmp_path / "reports"
    assert run_reports(small_mall, out_dir=out, notebooks_dir=two_notebooks, label="m", **QUIET).ok
    other = shutil.copytree(small_mall, tmp_path / "other")
    members = pd.read_csv(other / "members.csv", dtype=str)
    members.iloc[:-1].to_csv(other / "members.csv", index=False)
    members.to_csv(other / "members.csv", index=False, lineterminator="\r\n")  # same rows, other bytes
    with pytest.raises(runner.ParameterError, match="other data"):
        run_reports(other, out_dir=out, notebooks_dir=two_notebooks, label="m", only=["a_first"], **QUIET)
    assert (out / "m" / "b_second.html").exists()


def test_a_second_run_of_the_same_label_is_refused(small_mall, tmp_path, two_notebooks, capsys):
    out = tmp_path / "reports"
    with locked(state_dir(out) / "locks" / "busy.lock", wait=False, what="run folder busy"):
        with pytest.raises(RunLockedError, match="pid"):
            run_reports(small_mall, out_dir=out, notebooks_dir=two_notebooks, label="busy", **QUIET)
        rc = cli.main(["run", "--data", str(small_mall), "--out", str(out), "--label", "busy", "--notebooks", str(two_notebooks)])
        assert rc == 2 and "being written by mallwake pid" in capsys.readouterr().err
    assert not (out / "busy").exists() and not (out / ".busy.partial").exists()


def test_a_lock_held_by_another_process_is_seen(tmp_path):
    lock = tmp_path / "x.lock"
    code = (
        "import sys, time; sys.path.insert(0, sys.argv[2]); from analysis.data.storage import locked; from pathlib import Path\n"
        "with locked(Path(sys.argv[1]), wait=False, what='x'):\n    print('held', flush=True); time.sleep(30)"
    )
    proc = subprocess.Popen(
        [os.sys.executable, "-c", code, str(lock), str(Path(runner.__file__).parent.parent)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout.readline().strip() == "held"
        with pytest.raises(RunLockedError):
            with locked(lock, wait=False, what="x"):
                pass
    finally:
        proc.kill()
        proc.wait()
    with locked(lock, wait=False, what="x"):  # released when the holder died
        pass


def test_concurrent_index_rebuilds_never_fail(tmp_path):
    out = tmp_path / "reports"
    (out / "r1").mkdir(parents=True)
    (out / "r1" / "run.json").write_text(json.dumps({"status": "ok", "notebooks": [], "finished": "2024"}))
    errors = []

    def rebuild():
        for _ in range(40):
            try:
                build_index(out)
            except Exception as err:  # noqa: BLE001 - the test counts every failure
                errors.append(err)

    threads = [threading.Thread(target=rebuild) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert "r1" in (out / "index.html").read_text(encoding="utf-8")
    assert sorted(p.name for p in out.iterdir()) == [
        ".mallwake",
        "glossary.html",
        "glossary.zh.html",
        "index.html",
        "index.zh.html",
        "r1",
    ]  # no temporary files left


def test_full_disk_on_out_is_one_line_and_leaves_no_litter(small_mall, tmp_path, two_notebooks, monkeypatch, capsys):
    out = tmp_path / "reports"
    assert run_reports(small_mall, out_dir=out, notebooks_dir=two_notebooks, label="m", **QUIET).ok

    def full(*_a, **_k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(runner, "execute_notebook", full)
    rc = cli.main(
        ["run", "--data", str(small_mall), "--out", str(out), "--label", "m", "--notebooks", str(two_notebooks), "--force"]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1 and len(err) == 1 and "no space left" in err[0]
    assert (out / "m" / "a_first.html").exists() and (out / "m" / "b_second.html").exists()
    assert not [p for p in out.rglob("*") if ".partial" in p.name or p.name.endswith((".wal", ".tmp"))]
    assert not [p for p in (tmp_path / "exports").iterdir() if ".partial" in p.name]


def _tmpfs(path: Path, size: str) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True).returncode == 0


def test_a_really_full_out_disk(small_mall, tmp_path, two_notebooks):
    """On a real 300 kB file system (root can mount one; CI runs as root)."""
    disk = tmp_path / "disk"
    if not _tmpfs(disk, "300k"):
        if os.environ.get("CI"):
            pytest.fail("CI runs as root and must be able to mount a tmpfs")
        pytest.skip("cannot mount a tmpfs here (not root)")
    try:
        out = disk / "reports"
        with pytest.raises(runner.DiskFullError):
            run_reports(
                small_mall,
                out_dir=out,
                notebooks_dir=two_notebooks,
                label="m",
                jobs=1,
                params={},
                exports_dir=disk / "exports",
                **QUIET,
            )
        assert not [p for p in disk.rglob("*") if ".partial" in p.name]
    finally:
        subprocess.run(["umount", str(disk)], check=False)


# --- no stale or corrupt results ----------------------------------------------------------------


def _same_size_and_mtime_copy(src: Path, dst: Path, mutate) -> None:
    """Replace ``dst`` by a mutated copy of ``src`` with ``dst``'s size and mtime (as ``cp -p`` would)."""
    st = dst.stat()
    data = mutate(src.read_bytes())
    assert len(data) == st.st_size
    dst.write_bytes(data)
    os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_a_corrected_export_with_the_same_size_and_mtime_is_not_served_stale(small_mall, tmp_path):
    d = shutil.copytree(small_mall, tmp_path / "mall")
    before = load_dataset(d)
    spend_before = float(before.transactions.amount.sum().to_pandas())
    fp_before = before.fingerprint
    corrected = tmp_path / "corrected.csv"
    members = (d / "members.csv").read_bytes()
    # the same members file with one tier changed to another of the same length: same size, new content
    old_row = next(line for line in members.split(b"\n")[1:] if b",silver," in line)
    new_row = old_row.replace(b",silver,", b",normal,")
    assert len(new_row) == len(old_row)
    corrected.write_bytes(members.replace(old_row, new_row, 1))
    _same_size_and_mtime_copy(corrected, d / "members.csv", lambda b: b)
    after = load_dataset(d)
    assert after.fingerprint != fp_before
    mid = old_row.split(b",")[0].decode()
    assert after.members.filter(after.members.member_id == mid).tier.to_pandas().iloc[0] == "normal"
    assert float(after.transactions.amount.sum().to_pandas()) == pytest.approx(spend_before)


def test_a_corrected_export_that_breaks_a_rule_is_caught_despite_the_cache(small_mall, tmp_path):
    d = shutil.copytree(small_mall, tmp_path / "mall")
    assert validate_data_dir(d).ok
    text = (d / "campaigns.csv").read_bytes()
    bad = text.replace(b",30,", b",-3,", 1)
    assert len(bad) == len(text) and bad != text
    _same_size_and_mtime_copy(d / "campaigns.csv", d / "campaigns.csv", lambda _b: bad)
    report = validate_data_dir(d)
    assert not report.ok and any(v.column == "response_days" for v in report.violations)


def test_a_truncated_stage_is_rebuilt_with_a_message(small_mall, tmp_path):
    d = shutil.copytree(small_mall, tmp_path / "mall")
    _, path = prepare_dataset(d)
    size = path.stat().st_size
    with path.open("r+b") as fh:
        fh.truncate(size // 3)
    messages = []
    with pytest.warns(UserWarning, match="not usable"):
        _, again = prepare_dataset(d, log=messages.append)
    assert again == path and path.stat().st_size > size // 3
    assert any(str(path) in m for m in messages)
    assert load_dataset(d).members.count().to_pandas() > 0


def test_garbage_stage_and_killed_staging_leftovers_are_cleaned(small_mall, tmp_path):
    d = shutil.copytree(small_mall, tmp_path / "mall")
    path = stage_path(d)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"not a database" * 100)
    dead = path.with_name(f"{path.stem}.partial-999999999")  # a pid that does not run
    dead.write_bytes(b"half")
    Path(str(dead) + ".wal").write_bytes(b"half")
    spill = Path(str(dead) + ".tmp")  # DuckDB's spill folder of the killed staging (a memory limit is set)
    spill.mkdir()
    (spill / "duckdb_temp_storage-0.tmp").write_bytes(b"spilled")
    with pytest.warns(UserWarning, match="not usable"):
        _, again = prepare_dataset(d)
    assert again == path and not dead.exists() and not spill.exists()
    assert load_dataset(d).transactions.count().to_pandas() > 0


def test_a_full_cache_falls_back_to_the_files(small_mall, tmp_path, monkeypatch):
    import duckdb

    from analysis.data import dataset

    monkeypatch.setenv("MALLWAKE_CACHE_DIR", str(tmp_path / "cache"))
    d = shutil.copytree(small_mall, tmp_path / "mall")
    real = dataset._create_tables

    def full(execute, files, kind):
        real(execute, files, kind)
        raise duckdb.IOException('Could not write file "x": No space left on device')

    monkeypatch.setattr(dataset, "_create_tables", full)
    with pytest.warns(UserWarning, match="cache .* is full"):
        report, staged = prepare_dataset(d)
    assert report.ok and staged is None
    assert not [p for p in (tmp_path / "cache").rglob("*") if p.is_file() and "stage" in p.parts]
    monkeypatch.setattr(dataset, "_create_tables", real)
    direct = load_dataset(d, stage=False)
    assert direct.members.count().to_pandas() > 0


# --- kernels that start ---------------------------------------------------------------------------


def test_many_kernels_start_at_once(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    nb = _nb(tmp_path / "k.ipynb", "print(int(data_dir) * 2)")
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: execution.execute_notebook(nb, tmp_path / f"o{i}.ipynb", {"data_dir": str(i)}), range(12)))
    outs = [nbformat.read(tmp_path / f"o{i}.ipynb", as_version=4).cells[-1].outputs[0]["text"].strip() for i in range(12)]
    assert outs == [str(2 * i) for i in range(12)]


# --- clear errors for dates -----------------------------------------------------------------------


@pytest.mark.parametrize("args", [["--as-of", "notadate"], ["-p", "as_of=2024-13-45"], ["--as-of", "31/12/2024"]])
def test_bad_analysis_dates_are_one_line_exit_2(args, small_mall, tmp_path, capsys):
    rc = cli.main(["run", "--data", str(small_mall), "--out", str(tmp_path / "r"), *args])
    err = capsys.readouterr().err
    assert rc == 2 and "YYYY-MM-DD" in err and "Traceback" not in err
    assert not (tmp_path / "r").exists() or not [p for p in (tmp_path / "r").iterdir() if p.name.endswith("-failed")]


def test_a_month_before_the_data_starts_is_refused(small_mall, tmp_path, capsys):
    rc = cli.main(["run", "--data", str(small_mall), "--out", str(tmp_path / "r"), "--month", "1999-01"])
    err = capsys.readouterr().err
    assert rc == 2 and "before the data start" in err and "Traceback" not in err
    with pytest.raises(runner.ParameterError):
        run_months(small_mall, ["1999-01"], out_dir=tmp_path / "r", **QUIET)


def test_a_changed_preregistration_record_rebuilds_the_campaign_report(small_mall, tmp_path):
    """The campaign report reads the records beside the data: a changed record is not served from
    the cache of the run before."""
    import json

    from analysis.application.runner import run_reports

    d = shutil.copytree(small_mall, tmp_path / "mall")
    out = tmp_path / "reports"
    first = run_reports(d, out_dir=out, only=["03_campaign_effects"], log=lambda *_: None)
    assert first.ok
    again = run_reports(d, out_dir=out, only=["03_campaign_effects"], log=lambda *_: None)
    assert again.notebooks[0].seconds == first.notebooks[0].seconds, "unchanged inputs: served from the run before"
    record = d / "preregistrations" / "W2-AFTER.json"
    changed = json.loads(record.read_text()) | {"allocation": {"holdout": 0.5, "call_wechat_ent": 0.5}}
    record.write_text(json.dumps(changed))
    third = run_reports(d, out_dir=out, only=["03_campaign_effects"], log=lambda *_: None)
    assert third.ok and third.notebooks[0].seconds != first.notebooks[0].seconds
    assert "MISMATCH" in (third.out_dir / "03_campaign_effects.html").read_text(encoding="utf-8")


def test_a_run_in_another_language_is_labelled_beside_the_english_one(small_mall, tmp_path):
    """Without --label, `mallwake run --lang zh` once replaced the English run of the same data and date."""
    d = tmp_path / "nbs"
    d.mkdir()
    nb = _nb(d / "a_first.ipynb", "from analysis.presentation.report import record_metrics\nrecord_metrics(value=1)")
    book = nbformat.read(nb, as_version=4)
    book.cells[1].source += '\nlang: str = "en"'
    nbformat.write(book, nb)
    out = tmp_path / "reports"
    en = run_reports(small_mall, out_dir=out, notebooks_dir=d, **QUIET)
    zh = run_reports(small_mall, out_dir=out, notebooks_dir=d, params={"lang": "zh"}, **QUIET)
    assert en.ok and zh.ok and zh.label == en.label + "-zh"
    assert (out / en.label / "a_first.html").is_file() and (out / zh.label / "a_first.html").is_file()
    page = (out / zh.label / "a_first.html").read_text(encoding="utf-8")
    assert f'href="../{en.label}/a_first.html" hreflang="en"' in page  # the same report in English
