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


# --- plan files and every settings file: one declared schema each ------------------------------

_PLAN = """campaign_id: W9
start_date: 2024-12-20
tier: gold
strata: [tier, recency_band]
arms:
  holdout: {share: 0.5, control: true}
  call: {share: 0.5, channel: call_wechat, gift: entertainment, contact_cost: 1}
"""


def _with(line: str) -> str:
    """The plan with ``line`` (``key: value``) in place of the key's line, or added."""
    key = line.split(":", 1)[0]
    kept = [x for x in _PLAN.splitlines() if not x.startswith(f"{key}:")]
    return "\n".join([kept[0], line, *kept[1:]]) + "\n"


@pytest.mark.parametrize("line, words", [
    ("alpha: high", ["'alpha'", "valid number", "'high'"]),
    ("sleeping_days: abc", ["'sleeping_days'", "valid integer"]),
    ("seed: abc", ["'seed'", "valid integer"]),
    ("strata: 5", ["'strata'", "valid list"]),
    ("power: 1.5", ["'power'", "less than 1"]),
    ("min_detectable_lift: 0", ["'min_detectable_lift'", "greater than 0"]),
    ("min_detectable_lift: -0.02", ["'min_detectable_lift'", "greater than 0"]),
    ("alpha: 5", ["'alpha'", "0.2"]),
    ("lookback_days: -3", ["'lookback_days'", "greater than or equal to 1"]),
    ("response_days: 0", ["'response_days'", "greater than or equal to 1"]),
    ("primary_outcome: 42", ["'primary_outcome'", "'return_rate'"]),
    ("channel: fax", ["'channel'", "'call_wechat'"]),
    ("sleepng_days: 100", ["unknown key 'sleepng_days'", "did you mean 'sleeping_days'"]),
    ("campaign_id: ../x", ["campaign_id '../x' is not a plain name"]),
    ("campaign_id: 2024", ["'campaign_id'", "valid string"]),
    ("tier: diamond", ["'tier'", "'diamond' is not a tier in the data", "gold"]),
    ("strata: [phone]", ["'strata'", "'phone'", "identifies members"]),
    ("covariates: [recency_days, plate_no]", ["'covariates'", "'plate_no'", "not a column of the list"]),
    ("strata: [lifetime_spend]", ["'strata'", "'lifetime_spend'", "distinct values", "recency_band"]),
    ("strata: [tier, tier]", ["'strata'", "twice"]),
    ("strata: &s [tier]\ncovariates: *s", ["line 2", "anchors and aliases"]),
    ("tier: gold\ntier: silver", ["line", "'tier' is given twice"]),
])
def test_a_bad_plan_file_is_refused_naming_the_key(line, words, small_mall, tmp_path, capsys):
    plan = tmp_path / "plan.yaml"
    plan.write_text(_with(line), encoding="utf-8")
    _refused(capsys, ["plan", str(plan), "--data", str(small_mall), "--exports", str(tmp_path / "e")],
             str(plan), "no plan written", *words)
    assert not (tmp_path / "e").exists()


def test_an_arm_channel_the_data_do_not_have_is_refused(small_mall, tmp_path, capsys):
    plan = tmp_path / "plan.yaml"
    plan.write_text(_PLAN.replace("channel: call_wechat", "channel: pigeon"), encoding="utf-8")
    _refused(capsys, ["plan", str(plan), "--data", str(small_mall), "--exports", str(tmp_path / "e")],
             "'arms.call.channel'", "'pigeon'", "sms")
    assert not (tmp_path / "e").exists()


@pytest.mark.parametrize("kind", ["fifo", "folder", "missing"])
def test_a_chosen_list_must_be_a_regular_file(kind, small_mall, tmp_path, capsys):
    """A FIFO hung the command until killed: it is refused without being opened."""
    import os

    target = tmp_path / "list.csv"
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "folder":
        target.mkdir()
    plan = tmp_path / "plan.yaml"
    plan.write_text(_PLAN + "chosen_list: list.csv\n", encoding="utf-8")
    words = {"fifo": "this is a FIFO", "folder": "this is a folder", "missing": "cannot read"}[kind]
    _refused(capsys, ["plan", str(plan), "--data", str(small_mall), "--exports", str(tmp_path / "e")],
             "'chosen_list'", words)
    assert not (tmp_path / "e").exists()


def test_a_plan_file_that_is_a_fifo_or_huge_is_refused_without_reading_it(small_mall, tmp_path, capsys):
    import os

    fifo = tmp_path / "plan.yaml"
    os.mkfifo(fifo)
    _refused(capsys, ["plan", str(fifo), "--data", str(small_mall), "--exports", str(tmp_path / "e")], "regular file")
    big = tmp_path / "big.yaml"
    big.write_text(_PLAN + "#" * 1_100_000 + "\n", encoding="utf-8")
    _refused(capsys, ["plan", str(big), "--data", str(small_mall), "--exports", str(tmp_path / "e")], "at most 1,000,000")


@pytest.mark.parametrize("text, words", [
    ("sleepng_days: 100\n", ["unknown key 'sleepng_days'", "did you mean 'sleeping_days'"]),
    ("alpha: high\n", ["'alpha'", "valid number"]),
    ("tiers: []\n", ["'tiers'", "at least 1"]),
    ("margin_rate: 1.5\n", ["'margin_rate'", "between 0 and 1"]),
    ("cluster_method: dbscan\n", ["'cluster_method'", "'gmm'"]),
    ("display_names: {sms: {fr: Texto}}\n", ["display_names.sms.fr", "allowed: en, zh"]),
    ("target_tier: gold\ntarget_tier: silver\n", ["'target_tier' is given twice"]),
    ("base: &b gold\ntarget_tier: *b\n", ["anchors and aliases"]),
])
def test_a_bad_mallwake_yaml_is_refused_by_run_and_validate(text, words, small_mall, tmp_path, capsys):
    import shutil

    data = tmp_path / "mall"
    shutil.copytree(small_mall, data)
    (data / "mallwake.yaml").write_text(text, encoding="utf-8")
    _refused(capsys, ["validate", str(data)], "mallwake.yaml", *words)
    _refused(capsys, ["run", "--data", str(data), "--out", str(tmp_path / "r"), "--only", "02_sleeping_members"],
             "mallwake.yaml", *words)
    assert _nothing_in(tmp_path / "r")


def test_the_mallwake_yaml_schema_covers_every_notebook_parameter():
    """Every parameter a bundled notebook declares may be set in mallwake.yaml (the runner's own
    excepted), with a type the notebook accepts; the schema knows no parameter no notebook has."""
    from pathlib import Path

    from analysis.config import NOTEBOOKS_DIR
    from analysis.runner import COMMON_PARAMETERS, declared_parameters
    from analysis.settings import data_settings_model

    declared: dict = {}
    for nb in sorted(Path(NOTEBOOKS_DIR).rglob("*.ipynb")):
        for name, p in declared_parameters(nb).items():
            declared[name] = p["type"]
    fields = data_settings_model().model_fields
    own = {"tiers", "display_names", "currency"}
    assert set(declared) - set(COMMON_PARAMETERS) <= set(fields)
    assert set(fields) - own <= set(declared)
    python = {"int": int, "float": float, "str": str, "bool": bool}
    for name, type_name in declared.items():
        if name in fields and name not in ("export_dir", "output_dir"):
            args = str(fields[name].annotation)
            assert python[type_name].__name__ in args or "Literal" in args, (name, type_name, args)


@pytest.mark.parametrize("text, words", [
    ("engine: postgres\nurl: postgresql://a@b/c\ntabels: {members: m}\n", ["unknown key 'tabels'", "did you mean 'tables'"]),
    ("engine: pyspark\nspark: {mastr: 'local[2]'}\n", ["unknown key 'spark.mastr'", "did you mean 'master'"]),
    ("engine: postgres\nurl: postgresql://a@b/c\nurl: postgresql://a@b/d\n", ["'url' is given twice"]),
    ("engine: postgres\nurl: 5\n", ["'url'", "valid string"]),
])
def test_a_bad_connection_file_is_refused_naming_the_key(text, words, tmp_path, capsys):
    f = tmp_path / "crm.yaml"
    f.write_text(text, encoding="utf-8")
    _refused(capsys, ["validate", str(f)], str(f), *words)
