"""Running where the data live: PostgreSQL and Spark sources, validated and analysed in the engine.

The full run (every notebook: the six reports, the three teaching notebooks and a monthly
report) on a PostgreSQL cluster must give the same metrics as the same data as files: counts
exactly, fitted values within 1e-9 (Spark: ``test_sources_spark.py``). PostgreSQL comes from the
server programs on the PATH or Debian's package (``.ci/run`` installs it); without them the test
skips, except where ``MALLWAKE_REQUIRE_POSTGRES=1`` (CI) makes that a failure.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from analysis.data.config import NOTEBOOKS_DIR
from analysis.data.contract import TABLES, present_files
from analysis.data.dataset import load_dataset, validate_source
from analysis.data.params import ParameterError
from analysis.data.sources import SourceError, is_source, parse_source, settings_dir
from analysis.data.validation import relation_sql, validate_data_dir

sys.path.insert(0, str(Path(__file__).parent))
import pgcluster  # noqa: E402
from sources_common import SETTINGS, assert_same_metrics, files_metrics, run_all, settings_beside  # noqa: E402,F401

REQUIRE_PG = os.environ.get("MALLWAKE_REQUIRE_POSTGRES") == "1"


# --- what a source is --------------------------------------------------------------------------


def test_a_url_with_a_password_is_refused_and_reports_never_name_a_secret(tmp_path, monkeypatch):
    with pytest.raises(ParameterError, match="holds a password"):
        parse_source("postgresql://ana:hunter2@db.example:5432/crm")
    with pytest.raises(ParameterError, match="secret"):
        parse_source("trino://ana@db.example/hive?password=hunter2")
    src = parse_source("postgresql://ana:${CRM_PASSWORD}@db.example:5432/crm?schema=loyalty")
    assert src.name == "postgresql://ana@db.example:5432/crm?schema=loyalty" and src.schema == "loyalty"
    assert src.label == "crm" and settings_dir(src.spec) is None
    monkeypatch.delenv("CRM_PASSWORD", raising=False)
    with pytest.raises(ParameterError, match="CRM_PASSWORD is not set"):
        src.connect()


def test_a_connection_file_is_checked_and_its_folder_holds_the_settings(tmp_path):
    f = tmp_path / "crm.yaml"
    f.write_text("engine: postgres\nurl: postgresql://ana@db/crm\ntables: {members: loyalty.crm_members}\n")
    src = parse_source(f)
    assert is_source(f) and src.where("members") == "loyalty.crm_members" and src.where("visits") == "visits"
    assert settings_dir(str(f)) == tmp_path and src.name == "crm.yaml"
    for text, message in (
        ("engine: postgres\n", "needs a url"),
        ("engine: postgres\nurl: postgresql://a@b/c\ntables: {shops: x}\n", "does not have"),
        ("engine: postgres\nurl: postgresql://a@b/c\npassword: x\n", "unknown key"),
        ("engine: postgres\nurl: postgresql://a@b/c\ntables: {members: {parquet: /x}}\n", "must name a table"),
        ("- just a list\n", "a connection file is a mapping"),
    ):
        g = tmp_path / f"bad{abs(hash(text))}.yaml"
        g.write_text(text)
        with pytest.raises(ParameterError, match=message):
            parse_source(g)
    assert not is_source(tmp_path)  # a folder stays a data folder
    f.write_text("engine: postgres\nurl: postgresql://ana@db/crm\nschema: other\n")  # edited: read again
    assert parse_source(f).where("members") == "other.members"


def test_the_readme_spark_connection_file_reads_as_written(tmp_path):
    f = tmp_path / "lake.yaml"
    f.write_text(_readme_block("# lake/lake.yaml"))
    src = parse_source(f)
    assert src.engine == "pyspark" and src.spark["master"] == "local[8]"
    assert src.table_ref("members") == {"parquet": "/lake/crm/members"}
    assert src.table_ref("transactions") == ("pos_lines", "lakehouse") and src.where("visits") == "visits"


def test_a_connection_file_says_whether_a_run_copies_the_tables(tmp_path):
    f = tmp_path / "c.yaml"
    for text, copies in (
        ("engine: postgres\nurl: postgresql://a@h/db\n", True),
        ("url: postgresql://a@h/db\ncopy: false\n", False),
    ):
        f.write_text(text)
        assert parse_source(f).copies is copies
    assert parse_source("postgresql://a@h/db?schema=s").copies and not parse_source("duckdb:///x.ddb").copies
    f.write_text("engine: pyspark\ncopy: false\n")
    assert not parse_source(f).copies
    f.write_text("engine: pyspark\ncopy: true\n")
    with pytest.raises(ParameterError, match="'copy' is for databases"):
        parse_source(f)
    f.write_text("url: postgresql://a@h/db\ncopy: sometimes\n")
    with pytest.raises(ParameterError, match="copy"):
        parse_source(f)
    # the same tables of the same database are one identity, whatever the secret; another schema is not
    a, b = parse_source("postgresql://a@h/db?schema=s"), parse_source("postgresql://a@h/db?schema=t")
    assert a.identity == parse_source("postgresql://a@h/db?schema=s").identity != b.identity


def test_cli_says_why_it_cannot_reach_a_source_and_exits_2(tmp_path):
    exe = Path(sys.executable).parent / "mallwake"
    res = subprocess.run([str(exe), "validate", "postgresql://nobody@127.0.0.1:9/none"], capture_output=True, text=True)
    assert res.returncode == 2 and "cannot connect" in res.stderr and "127.0.0.1:9" in res.stderr
    res = subprocess.run(
        [str(exe), "run", "--data", "postgresql://ana:pw@127.0.0.1:9/none", "--out", str(tmp_path / "r")],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 2 and "holds a password" in res.stderr and "pw@" not in res.stderr
    assert not (tmp_path / "r").exists() or not any((tmp_path / "r").iterdir())


# --- validation in the engine: the same rules as files --------------------------------------


def _broken_copy(tiny_dir: Path, dst: Path) -> Path:
    shutil.copytree(tiny_dir, dst)
    m = pd.read_csv(dst / "members.csv", dtype=str)
    m = pd.concat([m, m.iloc[[0]]]).reset_index(drop=True)  # a duplicate member id
    m.loc[1, "tier"] = "diamond"
    m.loc[2, "join_date"] = "05/03/2023"
    m.loc[0, "phone_valid"] = "maybe"
    m.to_csv(dst / "members.csv", index=False)
    t = pd.read_csv(dst / "transactions.csv", dtype=str)
    t.loc[0, "amount"] = "-5"
    t.loc[1, "amount"] = "abc"
    t.loc[2, "member_id"] = "Z9"
    t.loc[3, "ts"] = "2031-01-01 10:00:00"
    t.to_csv(dst / "transactions.csv", index=False)
    c = pd.read_csv(dst / "campaigns.csv", dtype=str)
    c.loc[0, "response_days"] = "0"
    c.to_csv(dst / "campaigns.csv", index=False)
    return dst


def _as_database(folder: Path, db: Path, typed: bool) -> None:
    """The folder's tables in a DuckDB database file: as text (as a CSV holds them), or typed."""
    with duckdb.connect(str(db)) as con:
        for name, path in present_files(folder).items():
            rel = relation_sql(path) if not typed else f"read_csv('{path}', header=true)"
            con.execute(f"CREATE TABLE {name} AS SELECT * FROM {rel}")


@pytest.mark.parametrize("typed", [False, True])
def test_engine_validation_breaks_the_same_rules_with_the_same_messages_as_files(tiny_dir, tmp_path, typed):
    broken = _broken_copy(tiny_dir, tmp_path / "broken")
    tiers = ("normal", "silver", "gold", "platinum")
    files = validate_data_dir(broken, as_of="2024-12-31", tiers=tiers, use_cache=False)
    db = tmp_path / "crm.duckdb"
    _as_database(broken, db, typed)
    engine = validate_source(f"duckdb:///{db}", as_of="2024-12-31", tiers=tiers)[0]
    # the same rules; a reference names the table it points to as the source has it (members, not members.csv)
    by_rule = lambda report: {(v.table, v.column, v.rule.replace(".csv", ""), v.n_rows) for v in report.violations}  # noqa: E731
    want = by_rule(files)
    if typed:  # DuckDB typed what it could (ts, response_days); columns holding bad text stay text
        con = duckdb.connect(str(db), read_only=True)
        kinds = dict(
            con.execute(
                "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'transactions'"
            ).fetchall()
        )
        con.close()
        assert kinds["ts"] == "TIMESTAMP"
    assert by_rule(engine) == want
    assert len(want) >= 8
    messages = "\n".join(engine.messages())
    # the same message, naming the source's table and the row by its key instead of a line
    assert (
        "members: column 'tier': must be one of the tier levels (normal, silver, gold, platinum); 1 row(s) break this rule, "
        "e.g. member_id='A2': 'diamond'" in messages
    )
    assert "transactions: column 'member_id': must refer to a known member in members; 1 row(s)" in messages
    with pytest.raises(Exception, match="breaks"):
        load_dataset(f"duckdb:///{db}", as_of="2024-12-31")


@pytest.mark.parametrize("copy", [False, True], ids=["in place", "copied"])
def test_a_valid_source_validates_like_its_files_and_gives_the_same_tables(small_mall, tmp_path, copy):
    """In place (every query in the engine) and copied once (``copy: true``: other engines than
    PostgreSQL stream the typed tables as Arrow batches into the local copy)."""
    db = tmp_path / "mall.duckdb"
    _as_database(small_mall, db, typed=False)
    f = tmp_path / "mall.yaml"
    f.write_text(f"url: duckdb:///{db}\n" + ("copy: true\n" if copy else ""))
    for name in SETTINGS:
        src = small_mall / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, tmp_path / name)
    on_source, on_files = load_dataset(f), load_dataset(small_mall)
    assert on_source.validation.row_counts == on_files.validation.row_counts
    assert (on_source.as_of, on_source.tiers) == (on_files.as_of, on_files.tiers)
    assert on_source.in_engine is not copy and not on_files.in_engine
    assert on_source.fingerprint == validate_source(f).fingerprint and on_source.has_visits
    for name in ("members", "transactions", "purchase_days", "contacts"):
        cols = [c for c in on_files.table(name).columns if name == "purchase_days" or TABLES[name].kind(c)]
        a = on_source.table(name).select(*cols).to_pandas()  # extra columns keep the source's own types
        b = on_files.table(name).select(*cols).to_pandas()
        keys = [c for c in ("member_id", "day", "ts", "campaign_id", "txn_id") if c in a.columns]
        pd.testing.assert_frame_equal(
            a.sort_values(keys).reset_index(drop=True), b.sort_values(keys).reset_index(drop=True), check_dtype=False
        )


# --- full runs on PostgreSQL and Spark -------------------------------------------------------


@pytest.fixture(scope="module")
def pg_url():
    if pgcluster.server_bin() is None:
        if REQUIRE_PG:
            pytest.fail("PostgreSQL (initdb, pg_ctl) is not installed but MALLWAKE_REQUIRE_POSTGRES=1")
        pytest.skip("PostgreSQL server programs not installed (Debian: apt-get install postgresql)")
    with pgcluster.cluster() as url:
        yield url


NAMES = {
    "members": "crm_members",
    "transactions": "pos_lines",
    "visits": "parking_visits",
    "campaigns": "campaigns",
    "contacts": "campaign_contacts",
}


@pytest.fixture(scope="module")
def pg_source(pg_url, small_mall, tmp_path_factory, request) -> tuple[Path, str]:
    """The small mall in schema ``crm`` under the CRM's own table names, and a connection file
    whose password comes from the environment."""
    from analysis.data.sources import copy_to_postgres

    copy_to_postgres(small_mall, pg_url, schema="crm", names=NAMES)
    secret = "pw-" + secrets.token_hex(8)
    os.environ["MALLWAKE_TEST_PG_SECRET"] = secret  # trust authentication ignores it; the kernels inherit it
    request.addfinalizer(lambda: os.environ.pop("MALLWAKE_TEST_PG_SECRET", None))
    folder = tmp_path_factory.mktemp("pgsource")
    user_host = pg_url.split("://", 1)[1].split("@", 1)
    url = f"postgresql://{user_host[0]}:${{MALLWAKE_TEST_PG_SECRET}}@{user_host[1]}"
    f = folder / "crm.yaml"
    f.write_text(
        f"engine: postgres\nurl: {url}\nschema: crm\ntables:\n"
        + "".join(f"  {k}: {v}\n" for k, v in NAMES.items() if k != "campaigns")
    )
    settings_beside(folder, small_mall)
    return f, secret


@pytest.mark.slow
def test_every_notebook_on_postgres_equals_the_same_data_as_files(pg_source, files_metrics, small_mall, tmp_path):
    conn_file, secret = pg_source
    out = tmp_path / "reports"
    metrics = run_all(conn_file, out)
    assert_same_metrics(files_metrics, metrics)
    run = json.loads((out / "main" / "run.json").read_text())
    assert run["provenance"]["data source"] == "crm.yaml"
    assert run["as_of"] == f"{load_dataset(small_mall).as_of} (the last date in the data)"  # as for files
    check = validate_source(conn_file)
    fingerprint, detail = check.fingerprint, check.detail
    assert run["fingerprint"] == fingerprint and detail["transactions"]["rows"] > 10_000
    leaked = [p for p in out.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]
    assert not leaked
    assert "crm.pos_lines" in (out / "main" / "01_data_overview.html").read_text(encoding="utf-8")


@pytest.mark.slow
def test_postgres_validation_names_the_table_and_rows_and_the_fingerprint_follows_the_data(pg_source, tmp_path):
    import psycopg

    conn_file, _ = pg_source
    url = parse_source(conn_file).url.replace(":${MALLWAKE_TEST_PG_SECRET}", "")
    before = validate_source(conn_file).fingerprint
    with psycopg.connect(url, autocommit=True) as con:
        con.execute("CREATE SCHEMA IF NOT EXISTS broken")
        for table in NAMES.values():
            con.execute(f"DROP TABLE IF EXISTS broken.{table}")
            con.execute(f"CREATE TABLE broken.{table} AS SELECT * FROM crm.{table}")
        con.execute(
            "UPDATE broken.crm_members SET tier = 'diamond' WHERE member_id IN "
            "(SELECT member_id FROM broken.crm_members ORDER BY member_id LIMIT 2)"
        )
        con.execute("INSERT INTO broken.pos_lines (member_id, ts, amount) VALUES ('NOBODY', '2024-01-02 10:00', -3)")
        bad = conn_file.parent / "broken.yaml"  # beside the settings (mallwake.yaml declares the tiers)
        bad.write_text(conn_file.read_text().replace("schema: crm", "schema: broken"))
        exe = Path(sys.executable).parent / "mallwake"
        res = subprocess.run([str(exe), "validate", str(bad)], capture_output=True, text=True)
        assert res.returncode == 2, res.stderr
        assert "broken.crm_members: column 'tier': must be one of the tier levels" in res.stderr
        assert "2 row(s) break this rule" in res.stderr and "member_id=" in res.stderr
        assert "broken.pos_lines: column 'member_id': must refer to a known member in broken.crm_members" in res.stderr
        assert "broken.pos_lines: column 'amount': must not be negative" in res.stderr
        res = subprocess.run([str(exe), "run", "--data", str(bad), "--out", str(tmp_path / "r")], capture_output=True, text=True)
        assert res.returncode == 2 and "no report written" in res.stderr
        # one changed value changes the fingerprint; putting it back restores it
        con.execute("UPDATE crm.crm_members SET gender = 'X' WHERE member_id = (SELECT min(member_id) FROM crm.crm_members)")
        changed = validate_source(conn_file).fingerprint
        con.execute(
            "UPDATE crm.crm_members SET gender = b.gender FROM broken.crm_members b "
            "WHERE crm.crm_members.member_id = b.member_id AND crm.crm_members.gender = 'X'"
        )
    assert changed != before and validate_source(conn_file).fingerprint == before


def test_an_unreachable_source_is_a_source_error_not_a_crash():
    with pytest.raises(SourceError, match="cannot connect"):
        validate_source("postgresql://nobody@127.0.0.1:9/none")


def _readme_block(start: str) -> str:
    """The README's code block that begins with the line ``start`` (up to its closing fence)."""
    from analysis.data.config import PROJECT_DIR

    text = (PROJECT_DIR / "README.md").read_text(encoding="utf-8")
    i = text.index(start)
    return text[i : text.index("```", i)]


def _commands_after(marker: str) -> list[str]:
    """The README's ``.venv/bin/...`` command lines of the block holding ``marker`` (comments dropped)."""
    from analysis.data.config import PROJECT_DIR

    text = (PROJECT_DIR / "README.md").read_text(encoding="utf-8")
    i = text.index(marker)
    block = text[text.rindex("```", 0, i) : text.index("```", i)]
    return [line.split("  #")[0].strip() for line in block.splitlines() if line.startswith(".venv/bin/")]


@pytest.mark.slow
def test_readme_postgres_section_as_written(pg_url, small_mall, tmp_path):
    """The README's connection file (pointed at the test cluster), its commands, and its way to try it."""
    import shlex

    import psycopg
    import yaml

    from analysis.data.sources import copy_to_postgres

    user, rest = pg_url.split("://", 1)[1].split("@", 1)
    hostport, database = rest.split("/", 1)
    conf = (
        _readme_block("# crm/crm.yaml")
        .replace("analyst", user)
        .replace("crm-db:5432", hostport)
        .replace(f"{hostport}/crm", f"{hostport}/{database}")
    )
    tables = yaml.safe_load(conf)["tables"]
    copy_to_postgres(small_mall, pg_url, schema="loyalty", names={k: v.split(".")[-1] for k, v in tables.items()})
    with psycopg.connect(pg_url, autocommit=True) as con:
        con.execute("CREATE SCHEMA IF NOT EXISTS sales")
        con.execute("DROP TABLE IF EXISTS sales.pos_lines")
        con.execute("ALTER TABLE loyalty.pos_lines SET SCHEMA sales")
    (tmp_path / "crm").mkdir()
    (tmp_path / "crm" / "crm.yaml").write_text(conf)
    settings_beside(tmp_path / "crm", small_mall)
    env = {**os.environ, "CRM_PASSWORD": "not-a-real-one"}
    bin_dir = Path(sys.executable).parent
    commands = _commands_after("export CRM_PASSWORD")
    assert [c.split()[1] for c in commands] == ["validate", "run", "run"]
    for command in commands:
        argv = [str(bin_dir / "mallwake"), *shlex.split(command)[1:]]
        if argv[1] == "run":
            argv += ["--out", str(tmp_path / "reports")]  # not the project's reports/ folder
        res = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True)
        assert res.returncode == 0, (command, res.stderr[-2000:])
    assert (tmp_path / "reports" / "crm-latest" / "03_campaign_effects.html").is_file()
    assert any(p.name.startswith("month-") for p in (tmp_path / "reports").iterdir())
    # "to try it": a data folder copied into a database, then run by URL
    text = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    one_liner = text[text.index("To try it") :].split('`.venv/bin/python -c "', 1)[1].split('"`', 1)[0]
    one_liner = one_liner.replace("'data/demo'", repr(str(small_mall))).replace("postgresql://me@localhost/mall", pg_url)
    subprocess.run([sys.executable, "-c", one_liner], check=True, capture_output=True)
    url = (
        text[text.index("To try it") :].split("--data '", 1)[1].split("'", 1)[0].replace("postgresql://me@localhost/mall", pg_url)
    )
    res = subprocess.run(
        [str(bin_dir / "mallwake"), "run", "--data", url, "--out", str(tmp_path / "tried")], capture_output=True, text=True
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert (tmp_path / "tried" / "mall-latest" / "05_lifecycle.html").is_file()


@pytest.mark.slow
def test_plan_on_postgres_draws_the_same_wave_as_on_files(pg_source, small_mall, tmp_path):
    """`mallwake plan --data <source>`: the same list, arms and pre-registration as from the files."""
    from analysis.data.config import PROJECT_DIR

    conn_file, _ = pg_source
    exe = str(Path(sys.executable).parent / "mallwake")
    plan = str(PROJECT_DIR / "examples" / "next_wave.yaml")
    for name, data in (("files", small_mall), ("postgres", conn_file)):
        res = subprocess.run(
            [exe, "plan", plan, "--data", str(data), "--exports", str(tmp_path / name)], capture_output=True, text=True
        )
        assert res.returncode == 0, res.stderr[-2000:]
    a, b = (tmp_path / n / "plans" / "W4-NEXT" for n in ("files", "postgres"))
    assert (a / "contacts.csv").read_bytes() == (b / "contacts.csv").read_bytes()
    assert json.loads((a / "preregistration.json").read_text()) == json.loads((b / "preregistration.json").read_text())
    assert len(pd.read_csv(a / "contacts.csv")) > 10


# --- PostgreSQL read once per run: validated, fingerprinted and copied in one snapshot ---------


def _in_place(conn_file: Path) -> Path:
    """The same connection file with ``copy: false``: every query runs in PostgreSQL."""
    f = conn_file.with_name("crm_in_place.yaml")
    f.write_text(conn_file.read_text() + "copy: false\n")
    return f


@pytest.mark.slow
def test_the_reports_on_postgres_queried_in_place_equal_the_files(pg_source, files_metrics, tmp_path):
    from analysis.application.runner import run_reports

    conn_file = _in_place(pg_source[0])
    assert parse_source(conn_file).copies is False and load_dataset(conn_file).in_engine
    run = run_reports(conn_file, out_dir=tmp_path / "reports", label="main", jobs=2, log=lambda *_: None)
    assert all(n.status == "ok" for n in run.notebooks), [(n.name, n.error) for n in run.notebooks]
    engine = {p.name: json.loads(p.read_text()) for p in sorted((tmp_path / "reports").rglob("*.metrics.json"))}
    assert_same_metrics(files_metrics, engine, expected={p.stem for p in NOTEBOOKS_DIR.glob("*.ipynb")})


def test_a_postgres_copy_is_read_by_the_run_not_the_source_and_follows_its_changes(pg_source, monkeypatch):
    import dataclasses

    import psycopg

    from analysis.data import dataset
    from analysis.data.sources import Source

    conn_file, _ = pg_source
    source = parse_source(conn_file)
    assert source.copies
    assert not parse_source(_in_place(conn_file)).copies
    url = source.url.replace(":${MALLWAKE_TEST_PG_SECRET}", "")
    # doubling and halving are exact in binary floating point: the put-back restores every value
    one = "UPDATE crm.pos_lines SET amount = amount {} 2 WHERE member_id = (SELECT min(member_id) FROM crm.pos_lines)"
    # a row changed by someone else while the run validates and copies cannot reach the copy: one snapshot
    real_copy, changed = dataset.copy_source, []

    def copy_after_a_change(src, check, log=None):
        with psycopg.connect(url, autocommit=True) as other:
            changed.append(other.execute(one.format("*")).rowcount)
        return real_copy(src, check, log)

    monkeypatch.setattr(dataset, "copy_source", copy_after_a_change)
    check, copy = dataset.prepare_source(conn_file)
    monkeypatch.undo()
    try:
        assert copy is not None and copy.is_file() and dataset.stage_meta(copy)["fingerprint"] == check.fingerprint
        with duckdb.connect(str(copy), read_only=True) as con:
            copied = con.execute("SELECT sum(amount) FROM transactions").fetchone()[0]
            first = con.execute(
                "SELECT sum(amount) FROM transactions WHERE member_id = (SELECT min(member_id) FROM transactions)"
            )
            first = first.fetchone()[0]
        with psycopg.connect(url) as other:
            now = float(other.execute("SELECT sum(amount) FROM crm.pos_lines").fetchone()[0])
        assert changed[0] > 0 and first > 0 and now == pytest.approx(copied + first)  # the change is there, not in the copy
        # the run hands the kernels its copy: they never connect to the source, and see the run's fingerprint
        monkeypatch.setattr(Source, "connect", lambda self: pytest.fail("a kernel connected to the source"))
        with dataset.hand_copy(copy):
            data = load_dataset(conn_file)
            assert not data.in_engine and data.fingerprint == check.fingerprint and data.has_visits
            assert data.transactions.amount.sum().to_pandas() == pytest.approx(copied)
            assert dataset._handed_copy(dataclasses.replace(source, schema="other")) is None  # another source's copy
        assert dataset.SOURCE_COPY_ENV not in os.environ
        monkeypatch.undo()
        # without a handed copy the source is checked again: the change is seen, a new copy replaces the old
        data = load_dataset(conn_file)
        assert data.fingerprint != check.fingerprint and not copy.exists()
        assert data.transactions.amount.sum().to_pandas() == pytest.approx(now)
    finally:
        with psycopg.connect(url, autocommit=True) as other:  # put it back
            other.execute(one.format("/"))
    assert load_dataset(conn_file).fingerprint == check.fingerprint
