"""Commands refuse bad use (issue 26): one message naming the option or key and what is
allowed, exit 2, nothing written. The hostile-command suite; CI runs it with every test."""

from __future__ import annotations

import pytest

from analysis import cli
from analysis.storage import UnsafeNameError, check_label


def _refused(capsys, argv, *words) -> str:
    rc = cli.main(argv)
    err = capsys.readouterr().err
    assert rc == 2, err
    assert "Traceback" not in err
    for w in words:
        assert w in err, err
    return err


def _nothing_in(folder) -> bool:
    return not folder.exists() or not any(p for p in folder.rglob("*") if p.is_file())


@pytest.mark.parametrize("label", ["demo\n", "demo\r", " demo", "../x", ".hidden", "a/b"])
def test_a_label_that_is_not_a_plain_name_is_refused(label):
    with pytest.raises(UnsafeNameError):
        check_label(label)


@pytest.mark.parametrize("where", ["-p", "mallwake.yaml"])
def test_export_dir_is_not_a_parameter(where, small_mall, tmp_path, capsys):
    import shutil

    data = small_mall
    if where == "mallwake.yaml":
        data = tmp_path / "mall"
        shutil.copytree(small_mall, data)
        (data / "mallwake.yaml").write_text(f"export_dir: {tmp_path / 'r'}\n", encoding="utf-8")
    extra = ["-p", f"export_dir={tmp_path / 'r'}"] if where == "-p" else []
    _refused(capsys, ["run", "--data", str(data), "--out", str(tmp_path / "r"), "--only", "02_sleeping_members", *extra],
             "export_dir", "--exports")
    assert _nothing_in(tmp_path / "r")


def test_exports_inside_the_report_site_or_equal_to_it_is_refused(small_mall, tmp_path, capsys):
    out = tmp_path / "site"
    for exports in (out / "private", out):
        _refused(capsys, ["run", "--data", str(small_mall), "--out", str(out), "--exports", str(exports),
                          "--only", "02_sleeping_members"], "inside the report site")
    _refused(capsys, ["run", "--data", str(small_mall), "--out", str(tmp_path / "ex" / "site"), "--exports", str(tmp_path / "ex"),
                      "--only", "02_sleeping_members"], "is inside --exports")
    assert _nothing_in(out)


def test_exports_naming_a_file_is_refused(small_mall, tmp_path, capsys):
    f = tmp_path / "exports.txt"
    f.write_text("not a folder")
    _refused(capsys, ["run", "--data", str(small_mall), "--out", str(tmp_path / "r"), "--exports", str(f),
                      "--only", "02_sleeping_members"], "is a file, not a folder")
    plan = tmp_path / "plan.yaml"
    plan.write_text("campaign_id: P1\nstart_date: 2024-12-31\n", encoding="utf-8")
    _refused(capsys, ["plan", str(plan), "--data", str(small_mall), "--exports", str(f)], "is a file, not a folder")
    assert f.read_text() == "not a folder" and _nothing_in(tmp_path / "r")


def test_the_duplicate_rows_warning_shows_no_raw_member_id(small_mall, tmp_path):
    """Exact duplicate purchases are a warning on the overview page: its examples name the rows by
    pseudonym there and in the executed notebook, never by the raw member id."""
    import shutil

    import nbformat
    import pandas as pd

    from analysis.runner import run_reports

    data = tmp_path / "mall"
    shutil.copytree(small_mall, data)
    tx = pd.read_parquet(data / "transactions.parquet")
    tx = tx.drop(columns=[c for c in ("txn_id",) if c in tx.columns])
    doubled = tx.head(3)
    pd.concat([tx, doubled], ignore_index=True).to_parquet(data / "transactions.parquet", index=False)
    res = run_reports(data, out_dir=tmp_path / "r", only=["01_data_overview"], log=lambda *_: None)
    assert [n.status for n in res.notebooks] == ["ok"]
    page = (res.out_dir / "01_data_overview.html").read_text(encoding="utf-8")
    stored = nbformat.writes(nbformat.read(res.out_dir / "01_data_overview.ipynb", as_version=4))
    assert "exact copies" in page
    for raw in doubled["member_id"].astype(str):
        assert raw not in page and raw not in stored


# --- secrets in connection files ---------------------------------------------------------------

@pytest.mark.parametrize("url", ["foo://analyst:${MW_TEST_PW}@db.example/crm",
                                 "postgresql+psycopg://analyst:${MW_TEST_PW}@127.0.0.1:1/crm"])
def test_a_connection_error_never_prints_the_expanded_password(url, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MW_TEST_PW", "s3cretpw-42")
    conn = tmp_path / "crm.yaml"
    conn.write_text(f"url: {url}\n", encoding="utf-8")
    rc = cli.main(["validate", str(conn)])
    err = capsys.readouterr().err
    assert rc == 2 and "s3cretpw-42" not in err and "Traceback" not in err, err


def test_a_malformed_url_is_one_line_exit_2(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MW_TEST_PW", "s3cretpw-42")
    conn = tmp_path / "crm.yaml"
    conn.write_text("url: postgresql://analyst:${MW_TEST_PW}@[::1/crm\n", encoding="utf-8")
    err = _refused(capsys, ["validate", str(conn)], "not a valid URL")
    assert "s3cretpw-42" not in err
    err = _refused(capsys, ["validate", "postgresql://analyst@[::1/crm"], "not a valid URL")
