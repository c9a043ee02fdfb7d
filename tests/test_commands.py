"""Commands refuse bad use (issue 26): one message naming the option or key and what is
allowed, exit 2, nothing written. The hostile-command suite; CI runs it with every test."""

from __future__ import annotations

import subprocess
import sys

import pytest

from analysis.application import cli
from analysis.data.storage import UnsafeNameError, check_label


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
    _refused(
        capsys,
        ["run", "--data", str(data), "--out", str(tmp_path / "r"), "--only", "02_sleeping_members", *extra],
        "export_dir",
        "--exports",
    )
    assert _nothing_in(tmp_path / "r")


def test_exports_inside_the_report_site_or_equal_to_it_is_refused(small_mall, tmp_path, capsys):
    out = tmp_path / "site"
    for exports in (out / "private", out):
        _refused(
            capsys,
            ["run", "--data", str(small_mall), "--out", str(out), "--exports", str(exports), "--only", "02_sleeping_members"],
            "inside the report site",
        )
    _refused(
        capsys,
        [
            "run",
            "--data",
            str(small_mall),
            "--out",
            str(tmp_path / "ex" / "site"),
            "--exports",
            str(tmp_path / "ex"),
            "--only",
            "02_sleeping_members",
        ],
        "is inside --exports",
    )
    assert _nothing_in(out)


def test_exports_naming_a_file_is_refused(small_mall, tmp_path, capsys):
    f = tmp_path / "exports.txt"
    f.write_text("not a folder")
    _refused(
        capsys,
        ["run", "--data", str(small_mall), "--out", str(tmp_path / "r"), "--exports", str(f), "--only", "02_sleeping_members"],
        "is a file, not a folder",
    )
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

    from analysis.application.runner import run_reports

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


@pytest.mark.parametrize(
    "url", ["foo://analyst:${MW_TEST_PW}@db.example/crm", "postgresql+psycopg://analyst:${MW_TEST_PW}@127.0.0.1:1/crm"]
)
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


@pytest.mark.parametrize(
    "line, words",
    [
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
    ],
)
def test_a_bad_plan_file_is_refused_naming_the_key(line, words, small_mall, tmp_path, capsys):
    plan = tmp_path / "plan.yaml"
    plan.write_text(_with(line), encoding="utf-8")
    _refused(
        capsys,
        ["plan", str(plan), "--data", str(small_mall), "--exports", str(tmp_path / "e")],
        str(plan),
        "no plan written",
        *words,
    )
    assert not (tmp_path / "e").exists()


def test_an_arm_channel_the_data_do_not_have_is_refused(small_mall, tmp_path, capsys):
    plan = tmp_path / "plan.yaml"
    plan.write_text(_PLAN.replace("channel: call_wechat", "channel: pigeon"), encoding="utf-8")
    _refused(
        capsys,
        ["plan", str(plan), "--data", str(small_mall), "--exports", str(tmp_path / "e")],
        "'arms.call.channel'",
        "'pigeon'",
        "sms",
    )
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
    _refused(capsys, ["plan", str(plan), "--data", str(small_mall), "--exports", str(tmp_path / "e")], "'chosen_list'", words)
    assert not (tmp_path / "e").exists()


def test_a_plan_file_that_is_a_fifo_or_huge_is_refused_without_reading_it(small_mall, tmp_path, capsys):
    import os

    fifo = tmp_path / "plan.yaml"
    os.mkfifo(fifo)
    _refused(capsys, ["plan", str(fifo), "--data", str(small_mall), "--exports", str(tmp_path / "e")], "regular file")
    big = tmp_path / "big.yaml"
    big.write_text(_PLAN + "#" * 1_100_000 + "\n", encoding="utf-8")
    _refused(capsys, ["plan", str(big), "--data", str(small_mall), "--exports", str(tmp_path / "e")], "at most 1,000,000")


@pytest.mark.parametrize(
    "text, words",
    [
        ("sleepng_days: 100\n", ["unknown key 'sleepng_days'", "did you mean 'sleeping_days'"]),
        ("alpha: high\n", ["'alpha'", "valid number"]),
        ("tiers: []\n", ["'tiers'", "at least 1"]),
        ("margin_rate: 1.5\n", ["'margin_rate'", "between 0 and 1"]),
        ("cluster_method: dbscan\n", ["'cluster_method'", "'gmm'"]),
        ("display_names: {sms: {fr: Texto}}\n", ["display_names.sms.fr", "allowed: en, zh"]),
        ("target_tier: gold\ntarget_tier: silver\n", ["'target_tier' is given twice"]),
        ("base: &b gold\ntarget_tier: *b\n", ["anchors and aliases"]),
    ],
)
def test_a_bad_mallwake_yaml_is_refused_by_run_and_validate(text, words, small_mall, tmp_path, capsys):
    import shutil

    data = tmp_path / "mall"
    shutil.copytree(small_mall, data)
    (data / "mallwake.yaml").write_text(text, encoding="utf-8")
    _refused(capsys, ["validate", str(data)], "mallwake.yaml", *words)
    _refused(
        capsys,
        ["run", "--data", str(data), "--out", str(tmp_path / "r"), "--only", "02_sleeping_members"],
        "mallwake.yaml",
        *words,
    )
    assert _nothing_in(tmp_path / "r")


def test_the_mallwake_yaml_schema_covers_every_notebook_parameter():
    """Every parameter a bundled notebook declares may be set in mallwake.yaml (the runner's own
    excepted), with a type the notebook accepts; the schema knows no parameter no notebook has."""
    from pathlib import Path

    from analysis.application.parameters import COMMON_PARAMETERS, declared_parameters
    from analysis.data.config import NOTEBOOKS_DIR
    from analysis.data.settings import data_settings_model

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


@pytest.mark.parametrize(
    "text, words",
    [
        ("engine: postgres\nurl: postgresql://a@b/c\ntabels: {members: m}\n", ["unknown key 'tabels'", "did you mean 'tables'"]),
        ("engine: pyspark\nspark: {mastr: 'local[2]'}\n", ["unknown key 'spark.mastr'", "did you mean 'master'"]),
        ("engine: postgres\nurl: postgresql://a@b/c\nurl: postgresql://a@b/d\n", ["'url' is given twice"]),
        ("engine: postgres\nurl: 5\n", ["'url'", "valid string"]),
    ],
)
def test_a_bad_connection_file_is_refused_naming_the_key(text, words, tmp_path, capsys):
    f = tmp_path / "crm.yaml"
    f.write_text(text, encoding="utf-8")
    _refused(capsys, ["validate", str(f)], str(f), *words)


# --- report and export folders -----------------------------------------------------------------


def _two_notebooks(folder):
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    folder.mkdir()
    for name, value in (("a_first", 1), ("b_second", 2)):
        nb = new_notebook(
            cells=[
                new_code_cell('data_dir = ""\nas_of = ""\nexport_dir = ""', metadata={"tags": ["parameters"]}),
                new_code_cell(f"from analysis.presentation.report import record_metrics\nrecord_metrics(value={value})"),
            ]
        )
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, folder / f"{name}.ipynb")
    return folder


def test_an_out_folder_mallwake_did_not_make_is_refused_unless_empty(small_mall, tmp_path, capsys):
    """Its index.html and glossary.html were overwritten, and a file in a same-named subfolder deleted."""
    nbs = _two_notebooks(tmp_path / "nbs")
    mine = tmp_path / "my-site"
    (mine / "m").mkdir(parents=True)
    (mine / "index.html").write_text("my own page")
    (mine / "m" / "notes.txt").write_text("my notes")
    _refused(
        capsys,
        ["run", "--data", str(small_mall), "--out", str(mine), "--label", "m", "--notebooks", str(nbs)],
        "--out",
        "not a folder mallwake made",
        "index.html",
    )
    assert (mine / "index.html").read_text() == "my own page" and (mine / "m" / "notes.txt").read_text() == "my notes"
    assert sorted(p.name for p in mine.iterdir()) == ["index.html", "m"]
    # an exports folder of someone else's is refused the same way
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "m").mkdir()
    _refused(
        capsys,
        [
            "run",
            "--data",
            str(small_mall),
            "--out",
            str(tmp_path / "site"),
            "--exports",
            str(theirs),
            "--label",
            "m",
            "--notebooks",
            str(nbs),
        ],
        "--exports",
        "not a folder mallwake made",
    )
    # an empty folder is fine, and is then mallwake's: the next run goes in
    empty = tmp_path / "empty"
    empty.mkdir()
    for _ in range(2):
        assert (
            cli.main(
                [
                    "run",
                    "--data",
                    str(small_mall),
                    "--out",
                    str(empty),
                    "--exports",
                    str(tmp_path / "ex"),
                    "--label",
                    "m",
                    "--notebooks",
                    str(nbs),
                    "--force",
                ]
            )
            == 0
        )
    assert (empty / ".mallwake").is_dir() and (tmp_path / "ex" / ".mallwake").is_dir() and (empty / "m" / "a_first.html").exists()


def test_a_file_named_like_a_staging_folder_is_refused_and_a_killed_runs_staging_is_cleaned(small_mall, tmp_path, capsys):
    nbs = _two_notebooks(tmp_path / "nbs")
    out, ex = tmp_path / "site", tmp_path / "ex"
    argv = ["run", "--data", str(small_mall), "--out", str(out), "--exports", str(ex), "--label", "m", "--notebooks", str(nbs)]
    assert cli.main(argv) == 0
    (out / ".m.partial").write_text("not a folder")
    _refused(capsys, [*argv, "--force"], ".m.partial", "not a folder mallwake made")
    assert (out / ".m.partial").read_text() == "not a folder"  # not ours: left as it is
    (out / ".m.partial").unlink()
    # a killed run's staging folders (reports and exports): the next run of the label removes them,
    # also when every report is up to date and nothing is executed
    for folder in (out / ".m.partial", ex / ".m.partial"):
        folder.mkdir()
        (folder / "a_first.html").write_text("half written")
    (out / ".other.partial").mkdir()  # another label's: not touched
    assert cli.main(argv) == 0
    assert "up to date" in capsys.readouterr().out
    assert not (out / ".m.partial").exists() and not (ex / ".m.partial").exists() and (out / ".other.partial").is_dir()


def test_validating_a_duckdb_file_that_does_not_exist_creates_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PW", "s3cret-value")
    url = f"duckdb:///{tmp_path}/x/${{PW}}.ddb"
    err = _refused(capsys, ["validate", url], "no duckdb database file", "***")
    assert "s3cret-value" not in err
    assert not (tmp_path / "x").exists() and not list(tmp_path.rglob("*.ddb"))


# --- a disk that is already full ------------------------------------------------------------------


@pytest.fixture
def full_disk(tmp_path):
    """A 512 kB file system filled to the last byte (root mounts it; CI runs as root)."""
    import errno
    import os
    import subprocess

    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(disk)], capture_output=True).returncode:
        if os.environ.get("CI"):
            pytest.fail("CI runs as root and must be able to mount a tmpfs")
        pytest.skip("cannot mount a tmpfs here (not root)")
    try:
        fd = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT)
        try:
            while True:
                os.write(fd, b"\0" * 4096)
        except OSError as err:
            assert err.errno == errno.ENOSPC
        finally:
            os.close(fd)
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def _one_line_exit_1(capsys, argv) -> None:
    rc = cli.main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1, err
    assert len(err) == 1 and "no space left" in err[0], err


def test_run_plan_and_month_on_a_full_disk_are_one_line_and_exit_1(full_disk, small_mall, tmp_path, capsys):
    _one_line_exit_1(
        capsys,
        [
            "run",
            "--data",
            str(small_mall),
            "--out",
            str(full_disk / "reports"),
            "--label",
            "m",
            "--notebooks",
            str(_two_notebooks(tmp_path / "nbs")),
        ],
    )
    _one_line_exit_1(capsys, ["run", "--data", str(small_mall), "--out", str(full_disk / "monthly"), "--month", "latest"])
    plan = tmp_path / "plan.yaml"
    plan.write_text(_PLAN, encoding="utf-8")
    _one_line_exit_1(capsys, ["plan", str(plan), "--data", str(small_mall), "--exports", str(full_disk / "exports")])
    assert not (full_disk / "exports").exists()  # the plan's folders are removed again
    assert not [p for p in full_disk.rglob("*") if ".partial" in p.name or ".tmp" in p.name]


# --- where a CSV breaks ---------------------------------------------------------------------------


def _members_with(small_mall, tmp_path, change) -> object:
    import shutil

    data = tmp_path / "mall"
    shutil.copytree(small_mall, data)
    path = data / "members.csv"
    lines = path.read_bytes().split(b"\n")
    path.write_bytes(b"\n".join(change(lines)))
    return data


@pytest.mark.parametrize(
    "change, words",
    [
        (lambda lines: [*lines[:-1], b"\0\0\0", b""], ["line 2002", "NUL"]),  # a NUL-byte line at the end
        (lambda lines: [*lines[:-1], b"x" * 3_000_000, b""], ["line 2002", "longer than 2,000,000"]),  # a garbage last line
        (
            lambda lines: [lines[0], lines[1].replace(b",", b',"' + b"y" * 3_000_000 + b'",', 1), *lines[2:]],
            ["line 2", "longer than 2,000,000"],
        ),  # a huge quoted field on line 2
        (lambda lines: [lines[0], lines[1], lines[2] + b',"never closed', *lines[3:]], ["line 3", "never closed"]),
        (lambda lines: [lines[0], lines[1] + b",extra", *lines[2:]], ["line 2", "12 field(s) where the header has 11"]),
    ],
)
def test_a_broken_csv_names_its_real_line(change, words, small_mall, tmp_path, capsys):
    data = _members_with(small_mall, tmp_path, change)
    err = _refused(capsys, ["validate", str(data)], "members.csv", *words)
    assert "required column is missing" not in err and "Line: 1" not in err


def test_an_empty_id_is_shown_as_written_and_a_long_bad_line_is_counted_once(small_mall, tmp_path, capsys):
    data = _members_with(small_mall, tmp_path, lambda lines: [lines[0], b"," + lines[1].split(b",", 1)[1], *lines[2:]])
    err = _refused(capsys, ["validate", str(data)], "line 2: ''")
    assert "'nan'" not in err
    # a line of 9 MB with Latin-1 bytes spread over it (longer than a read block): one bad line
    data = _members_with(small_mall, tmp_path / "b", lambda lines: [*lines[:5], b"caf\xe9 " * 1_800_000, *lines[5:]])
    err = _refused(capsys, ["validate", str(data)], "must be UTF-8", "1 row(s)", "line 6")


def test_every_error_a_person_reads_has_one_base_class_mapped_to_an_exit_code_once():
    """One base class (click's way): the CLI turns it into a line and an exit code in main() alone."""
    import ast
    import inspect

    from analysis.application import cli as cli_module
    from analysis.data.errors import MallwakeError
    from analysis.data.params import ParameterError
    from analysis.data.privacy import PrivacyError
    from analysis.data.sources import SourceError
    from analysis.data.storage import DiskFullError, RunLockedError, UnsafeFolderError
    from analysis.data.validation import DataValidationError

    for cls in (
        ParameterError,
        PrivacyError,
        SourceError,
        DiskFullError,
        RunLockedError,
        UnsafeFolderError,
        UnsafeNameError,
        DataValidationError,
    ):
        assert issubclass(cls, MallwakeError), cls
    assert DiskFullError.exit_code == 1 and ParameterError.exit_code == RunLockedError.exit_code == 2
    tree = ast.parse(inspect.getsource(cli_module))
    catching = {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef)
        for h in ast.walk(node)
        if isinstance(h, ast.ExceptHandler)
        and "Error" in ast.unparse(h.type or ast.Name("x"))
        and "OSError" not in ast.unparse(h.type)
        and "ValueError" not in ast.unparse(h.type)
    }
    assert catching == {"main"}, catching


@pytest.mark.parametrize(
    "extra,word",
    [
        (["--label", "mine"], "--label"),
        (["--only", "02_sleeping_members"], "--only"),
        (["--notebooks", "notebooks/teaching"], "--notebooks"),
    ],
)
def test_options_of_a_report_run_are_refused_with_a_month(extra, word, small_mall, tmp_path, capsys):
    """A month's folder is named by its month and language and holds one notebook: an option that
    would name or choose otherwise is refused, not silently ignored."""
    err = _refused(capsys, ["run", "--data", str(small_mall), "--out", str(tmp_path / "r"), "--month", "2024-02", *extra], word)
    assert "monthly" in err
    assert _nothing_in(tmp_path / "r")


def test_a_run_does_not_compile_the_iri_grammar(small_mall, tmp_path):
    """The command's process never imports rfc3987_syntax (a Lark grammar compiled at import: 2.4 s
    before a run started, since the parameter checks import nbformat before the runner did)."""
    code = (
        "import sys; from analysis.application import cli; "
        f"rc = cli.main(['run', '--data', {str(small_mall)!r}, '--out', {str(tmp_path / 'r')!r}, '-p', 'nope=1']); "
        "print(rc, 'nbformat' in sys.modules, sys.modules.get('rfc3987_syntax', 'absent'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["2", "True", "None"], out  # refused after the parameters were read, grammar never loaded
