"""Every bad-input case of the data contract gives one clear violation."""

import hashlib

import pandas as pd
import pytest

from analysis.application.cli import main
from analysis.data.dataset import load_dataset
from analysis.data.validation import DataValidationError, validate_data_dir

AS_OF = "2023-12-31"


def _only(report, rule_part, column=None):
    hits = [v for v in report.violations if rule_part in v.rule and (column is None or v.column == column)]
    assert hits, f"no violation with {rule_part!r} in {report.messages()}"
    return hits[0]


def _edit(path, **changes):
    df = pd.read_csv(path, dtype=str)
    for col, (row, value) in changes.items():
        df.loc[row, col] = value
    df.to_csv(path, index=False)


def test_valid_tiny_dir_passes(tiny_dir):
    report = validate_data_dir(tiny_dir, as_of=AS_OF)
    assert report.ok, report.messages()
    assert report.row_counts == {"members": 3, "transactions": 4, "visits": 1, "campaigns": 1, "contacts": 2}


def test_missing_table(tiny_dir):
    (tiny_dir / "members.csv").unlink()
    v = _only(validate_data_dir(tiny_dir, as_of=AS_OF), "required table is missing")
    assert v.table == "members"


def test_campaign_tables_are_optional_but_contacts_need_campaigns(tiny_dir):
    (tiny_dir / "campaigns.csv").unlink()
    v = _only(validate_data_dir(tiny_dir, as_of=AS_OF), "need the campaigns")
    assert v.table == "contacts"
    (tiny_dir / "contacts.csv").unlink()
    assert validate_data_dir(tiny_dir, as_of=AS_OF).ok  # purchases and no campaigns: valid


def test_optional_visits_table_may_be_absent(tiny_dir):
    (tiny_dir / "visits.csv").unlink()
    assert validate_data_dir(tiny_dir, as_of=AS_OF).ok


def test_missing_column(tiny_dir):
    df = pd.read_csv(tiny_dir / "transactions.csv").drop(columns=["amount"])
    df.to_csv(tiny_dir / "transactions.csv", index=False)
    v = _only(validate_data_dir(tiny_dir, as_of=AS_OF), "required column is missing", "amount")
    assert v.file == "transactions.csv"


def test_unparseable_date_names_line_and_value(tiny_dir):
    _edit(tiny_dir / "transactions.csv", ts=(2, "03/03/2023"))
    v = _only(validate_data_dir(tiny_dir, as_of=AS_OF), "must be a date", "ts")
    assert v.n_rows == 1
    assert v.examples == ("line 4: '03/03/2023'",)
    assert "transactions.csv: column 'ts'" in v.message()


def test_unparseable_number(tiny_dir):
    _edit(tiny_dir / "transactions.csv", amount=(1, "12,5 yuan"))
    v = _only(validate_data_dir(tiny_dir, as_of=AS_OF), "must be a number", "amount")
    assert v.n_rows == 1 and "12,5 yuan" in v.examples[0]


def test_negative_amount(tiny_dir):
    _edit(tiny_dir / "transactions.csv", amount=(0, "-5"))
    v = _only(validate_data_dir(tiny_dir, as_of=AS_OF), "must not be negative", "amount")
    assert v.examples == ("line 2: '-5'",)


def test_duplicate_member_ids(tiny_dir):
    _edit(tiny_dir / "members.csv", member_id=(2, "A1"))
    report = validate_data_dir(tiny_dir, as_of=AS_OF)
    v = _only(report, "must be unique", "member_id")
    assert v.n_rows == 2 and "A1" in v.examples[0]


def test_duplicate_contact_rows(tiny_dir):
    _edit(tiny_dir / "contacts.csv", member_id=(1, "A1"))
    v = _only(validate_data_dir(tiny_dir, as_of=AS_OF), "must be unique", "campaign_id, member_id")
    assert v.table == "contacts"


def test_unknown_member_reference(tiny_dir):
    _edit(tiny_dir / "transactions.csv", member_id=(3, "ZZ9"))
    v = _only(validate_data_dir(tiny_dir, as_of=AS_OF), "known member", "member_id")
    assert v.table == "transactions" and v.examples == ("'ZZ9'",)


def test_unknown_campaign_reference(tiny_dir):
    _edit(tiny_dir / "contacts.csv", campaign_id=(0, "C404"))
    v = _only(validate_data_dir(tiny_dir, as_of=AS_OF), "known campaign", "campaign_id")
    assert v.n_rows == 1


def test_timestamp_after_analysis_date(tiny_dir):
    _edit(tiny_dir / "transactions.csv", ts=(0, "2024-01-01 00:00:01"))
    v = _only(validate_data_dir(tiny_dir, as_of=AS_OF), "after the analysis date", "ts")
    assert v.n_rows == 1


def test_empty_required_table(tiny_dir):
    (tiny_dir / "transactions.csv").write_text("member_id,ts,amount\n", encoding="utf-8")
    v = _only(validate_data_dir(tiny_dir, as_of=AS_OF), "table is empty")
    assert v.table == "transactions"


def test_tier_outside_levels_and_custom_levels(tiny_dir):
    _edit(tiny_dir / "members.csv", tier=(1, "diamond"))
    # declared levels (the data folder's mallwake.yaml): a tier outside them is an error
    (tiny_dir / "mallwake.yaml").write_text("tiers: [normal, silver, gold, platinum]\n")
    v = _only(validate_data_dir(tiny_dir, as_of=AS_OF), "tier levels", "tier")
    assert v.examples == ("line 3: 'diamond'",)
    assert validate_data_dir(tiny_dir, as_of=AS_OF, tiers=("normal", "silver", "gold", "diamond")).ok
    # undeclared: the levels in the data are used, with a warning saying so and how to declare them
    (tiny_dir / "mallwake.yaml").unlink()
    report = validate_data_dir(tiny_dir, as_of=AS_OF)
    assert report.ok and any("not declared" in w and "diamond" in w for w in report.warning_messages())
    explicit = validate_data_dir(tiny_dir, as_of=AS_OF, tiers=("normal", "silver", "gold", "diamond"))
    assert explicit.ok and not any("not declared" in w for w in explicit.warning_messages())  # given by the caller


def test_not_utf8(tiny_dir):
    text = (tiny_dir / "members.csv").read_text(encoding="utf-8").replace("A3", "会员3")
    (tiny_dir / "members.csv").write_bytes(text.encode("gbk"))
    v = _only(validate_data_dir(tiny_dir, as_of=AS_OF), "UTF-8")
    assert v.file == "members.csv" and v.examples == ("line 4",)


def test_utf8_bom_is_fine(tiny_dir):
    raw = (tiny_dir / "members.csv").read_bytes()
    (tiny_dir / "members.csv").write_bytes(b"\xef\xbb\xbf" + raw)
    assert validate_data_dir(tiny_dir, as_of=AS_OF).ok


def test_mixed_formats_across_tables_are_fine_but_not_within(tiny_dir):
    df = pd.read_csv(tiny_dir / "transactions.csv", dtype=str)
    df["ts"] = pd.to_datetime(df["ts"], format="ISO8601")
    df["amount"] = df["amount"].astype(float)
    df.to_parquet(tiny_dir / "transactions.parquet")
    v = _only(validate_data_dir(tiny_dir, as_of=AS_OF), "not both")
    assert v.table == "transactions"
    (tiny_dir / "transactions.csv").unlink()
    report = validate_data_dir(tiny_dir, as_of=AS_OF)
    assert report.ok, report.messages()
    data = load_dataset(tiny_dir, as_of=AS_OF)
    assert data.transactions.amount.sum().to_pandas() == pytest.approx(235.5)


def test_parquet_negative_amount_names_row(tiny_dir):
    df = pd.read_csv(tiny_dir / "transactions.csv")
    df["amount"] = [1.0, -2.0, 3.0, -4.0]
    df.to_parquet(tiny_dir / "transactions.parquet")
    (tiny_dir / "transactions.csv").unlink()
    v = _only(validate_data_dir(tiny_dir, as_of=AS_OF), "must not be negative")
    assert v.n_rows == 2 and v.examples[0].startswith("row 2")


def test_examples_capped_at_five(tiny_dir):
    df = pd.DataFrame({"member_id": ["A1"] * 12, "ts": ["bad"] * 12, "amount": ["1"] * 12})
    df.to_csv(tiny_dir / "transactions.csv", index=False)
    v = _only(validate_data_dir(tiny_dir, as_of=AS_OF), "must be a date")
    assert v.n_rows == 12 and len(v.examples) == 5


def test_load_raises_and_cli_exits_2_without_touching_input(tiny_dir, tmp_path, capsys):
    _edit(tiny_dir / "transactions.csv", amount=(0, "-5"))
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in tiny_dir.iterdir()}
    with pytest.raises(DataValidationError, match="must not be negative"):
        load_dataset(tiny_dir, as_of=AS_OF)
    assert main(["validate", str(tiny_dir), "--as-of", AS_OF]) == 2
    out = tmp_path / "reports"
    assert main(["run", "--data", str(tiny_dir), "--as-of", AS_OF, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "transactions.csv: column 'amount': must not be negative" in err and "line 2" in err
    assert not out.exists()
    after = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in tiny_dir.iterdir()}
    assert before == after


def test_loaded_types_and_member_attributes(tiny_dir):
    df = pd.read_csv(tiny_dir / "members.csv")
    df["district"] = ["a", "b", "c"]
    df["phone"] = ["13800000001", "13800000002", "13800000003"]
    df.to_csv(tiny_dir / "members.csv", index=False)
    data = load_dataset(tiny_dir, as_of=AS_OF)
    m = data.members.to_pandas().set_index("member_id")
    assert m.loc["A2", "phone_valid"] is False or m.loc["A2", "phone_valid"] == False  # noqa: E712
    assert str(data.members.schema()["join_date"]) == "date"
    assert data.member_attributes == ("district", "phone")
    assert data.covariate_attributes == ("district",)
    assert str(data.as_of) == AS_OF


def test_passed_validation_is_cached_until_a_file_changes(tiny_dir, monkeypatch, tmp_path):
    from analysis.data import validation

    monkeypatch.setenv("MALLWAKE_CACHE_DIR", str(tmp_path / "own-cache"))  # the same content may be cached by other tests

    calls = []
    real = validation._validate
    monkeypatch.setattr(validation, "_validate", lambda *a: calls.append(a) or real(*a))
    assert validate_data_dir(tiny_dir, as_of=AS_OF).ok
    assert validate_data_dir(tiny_dir, as_of=AS_OF).ok
    assert len(calls) == 1
    _edit(tiny_dir / "transactions.csv", amount=(0, "-5"))
    assert not validate_data_dir(tiny_dir, as_of=AS_OF).ok
    assert not validate_data_dir(tiny_dir, as_of=AS_OF).ok
    assert len(calls) == 3  # failures are never cached
