"""The data contract: which tables a data directory holds and what their columns mean.

Documented for users in ``data/README.md``; this module is the machine-readable version
that validation and loading both read, so the two cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

#: Column kinds. Each kind has one parse rule (validation) and one SQL type (loading).
SQL_TYPES = {
    "id": "VARCHAR",
    "str": "VARCHAR",
    "tier": "VARCHAR",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "amount": "DOUBLE",
    "number": "DOUBLE",
    "count": "INTEGER",
    "bool": "BOOLEAN",
}

TRUE_WORDS = ("true", "t", "1", "yes", "y")
FALSE_WORDS = ("false", "f", "0", "no", "n")


@dataclass(frozen=True)
class TableSpec:
    """One table of the contract.

    ``required`` and ``optional`` map column name to kind; ``key`` lists the columns whose
    combination must be unique; ``refs`` maps a column to the ``table.column`` it points to;
    ``time_column`` must not lie after the analysis date.
    """

    name: str
    required: dict[str, str]
    optional: dict[str, str] = field(default_factory=dict)
    key: tuple[str, ...] = ()
    refs: dict[str, str] = field(default_factory=dict)
    time_column: str | None = None
    required_table: bool = True
    may_be_empty: bool = False
    #: SQL value of an optional column when the file lacks it or leaves it blank (else NULL: unknown)
    defaults: dict[str, str] = field(default_factory=dict)

    def kind(self, column: str) -> str | None:
        return self.required.get(column) or self.optional.get(column)


MEMBERS = TableSpec(
    name="members",
    required={"member_id": "id", "join_date": "date", "tier": "tier"},
    optional={
        "birth_year": "count",
        "gender": "str",
        "phone_valid": "bool",
        "wechat_bound": "bool",
        "opt_out": "bool",
    },
    key=("member_id",),
    time_column="join_date",
)
TRANSACTIONS = TableSpec(
    name="transactions",
    required={"member_id": "id", "ts": "timestamp", "amount": "amount"},
    optional={"txn_id": "id", "store_id": "str", "category": "str", "is_return": "bool"},
    key=("txn_id",),
    refs={"member_id": "members.member_id"},
    time_column="ts",
    defaults={"is_return": "false"},
)
VISITS = TableSpec(
    name="visits",
    required={"member_id": "id", "ts": "timestamp", "source": "str"},
    refs={"member_id": "members.member_id"},
    time_column="ts",
    required_table=False,
    may_be_empty=True,
)
CAMPAIGNS = TableSpec(
    name="campaigns",
    required={"campaign_id": "id", "start_date": "date", "response_days": "count"},
    optional={"name": "str", "description": "str"},
    key=("campaign_id",),
    time_column="start_date",
    required_table=False,
    may_be_empty=True,
)
CONTACTS = TableSpec(
    name="contacts",
    required={"campaign_id": "id", "member_id": "id", "arm": "str"},
    optional={
        "channel": "str",
        "gift": "str",
        "contact_cost": "amount",
        "gift_cost": "amount",
        "reached": "bool",
        "redeemed": "bool",
    },
    key=("campaign_id", "member_id"),
    refs={"campaign_id": "campaigns.campaign_id", "member_id": "members.member_id"},
    required_table=False,
    may_be_empty=True,
)

TABLES: dict[str, TableSpec] = {t.name: t for t in (MEMBERS, TRANSACTIONS, VISITS, CAMPAIGNS, CONTACTS)}
FORMATS = (".csv", ".parquet")


def present_files(data_dir: Path) -> dict[str, Path]:
    """The file of each table present in ``data_dir`` (a validated directory has at most one)."""
    return {name: paths[0] for name, paths in table_files(data_dir).items() if paths}


def table_files(data_dir: Path) -> dict[str, list[Path]]:
    """Files in ``data_dir`` that hold each contract table (``<table>.csv``/``.parquet``)."""
    data_dir = Path(data_dir)
    return {name: [data_dir / f"{name}{ext}" for ext in FORMATS if (data_dir / f"{name}{ext}").is_file()] for name in TABLES}
