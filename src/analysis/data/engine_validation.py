"""Validate a source's tables where they live: the contract's rules as queries in the engine.

The same rules and the same messages as for files (:mod:`analysis.data.validation`): a required
table or column missing, blanks in required columns, text that is not a date or a number,
dates after the analysis date, tiers outside the levels, refunds with the wrong sign, duplicate
keys, references to unknown members or campaigns, and exact duplicate purchases. Each rule is an
Ibis boolean expression over the source's table; one aggregate query per table counts the rows
breaking each rule, and only the (at most five) example rows of a broken rule come back. A
database's typed columns cannot break a format rule, so those rules apply to text columns only.

Why not pandera's Ibis backend: it brings every failing row and each check's whole output
column back to pandas (``pandera/backends/ibis/base.py``: ``failure_cases.to_pandas()``,
``check_output.to_pandas()``), which is the table itself on a broken rule.

Rows in a database have no line numbers: examples name a row by its key (``member_id``,
``txn_id``, ...) instead.
"""

from __future__ import annotations

import datetime as dt

import ibis
import pandas as pd

from analysis.data.contract import FALSE_WORDS, TABLES, TRUE_WORDS, TableSpec
from analysis.data.validation import MAX_EXAMPLES, ValidationReport, Violation, _value

_ISO = r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$"
_OFFSET = r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?\s*(Z|z|[+-]\d{2}:?\d{2})$"
_NUMBER = r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$"
_WHOLE = r"^[+-]?\d+(\.0*)?$"


def _is_text(col) -> bool:
    return col.type().is_string()


def _text(col):
    return col.cast("string").strip()


def _blank(col):
    return col.isnull() | (_text(col) == "") if _is_text(col) else col.isnull()


def _number(col):
    """The column as a number (text that is not a number: NULL)."""
    if col.type().is_numeric() and not col.type().is_boolean():
        return col.cast("float64")
    txt = _text(col)
    return ibis.cases((txt.re_search(_NUMBER), txt.cast("float64")), else_=ibis.null().cast("float64"))


def _is_true(col):
    if col.type().is_boolean():
        return col.fill_null(False)
    return _text(col).lower().isin(list(TRUE_WORDS)).fill_null(False)


def column_rules(spec: TableSpec, t, as_of: dt.date, tiers: tuple[str, ...]) -> list[tuple[str, str, object, object]]:
    """Every rule of the contract on table ``t``: ``(column, rule message, breaks-the-rule expression, value shown)``."""
    rules = []
    after = ibis.literal(as_of.isoformat())
    for c in t.columns:
        kind = spec.kind(c)
        if kind is None:
            continue
        col, blank = t[c], _blank(t[c])
        if c in spec.required:
            rules.append((c, "must be present (not empty)", blank, col))
        if kind in ("date", "timestamp"):
            fmt = "YYYY-MM-DD" if kind == "date" else "YYYY-MM-DD[ HH:MM:SS]"
            if _is_text(col):
                txt = _text(col)
                iso, offset = txt.re_search(_ISO), txt.re_search(_OFFSET)
                rules.append((c, f"must be a date ({fmt})", ~blank & ~iso & ~offset, col))
                rules.append(
                    (
                        c,
                        "must be the mall's local time without a time-zone offset (drop the 'Z' or '+08:00')",
                        ~blank & offset,
                        col,
                    )
                )
                late = iso & (txt.substr(0, 10) > after)
            elif col.type().is_temporal():
                late = col.cast("date") > ibis.literal(as_of)
            else:
                rules.append((c, f"must be a date ({fmt})", ~blank, col))
                continue
            rules.append((c, f"must not lie after the analysis date {as_of}", ~blank & late.fill_null(False), col))
        elif kind in ("amount", "number"):
            if _is_text(col):
                rules.append((c, "must be a number", ~blank & ~_text(col).re_search(_NUMBER), col))
            elif not col.type().is_numeric():
                rules.append((c, "must be a number", ~blank, col))
        elif kind == "count":
            if _is_text(col):
                rules.append((c, "must be a whole number", ~blank & ~_text(col).re_search(_WHOLE), col))
            elif col.type().is_floating() or col.type().is_decimal():
                rules.append((c, "must be a whole number", ~blank & (col.cast("float64") != col.cast("float64").floor()), col))
            elif not col.type().is_integer():
                rules.append((c, "must be a whole number", ~blank, col))
        elif kind == "bool" and not col.type().is_boolean():
            rules.append(
                (c, "must be true/false (or 1/0, yes/no)", ~blank & ~_text(col).lower().isin(list(TRUE_WORDS + FALSE_WORDS)), col)
            )
        elif kind == "tier":
            rules.append((c, f"must be one of the tier levels ({', '.join(tiers)})", ~blank & ~_text(col).isin(list(tiers)), col))
    if spec.name == "campaigns" and "response_days" in t.columns:
        rules.append(
            (
                "response_days",
                "must be greater than 0",
                ~_blank(t.response_days) & ~(_number(t.response_days) > 0).fill_null(False),
                t.response_days,
            )
        )
    if spec.name == "transactions" and "amount" in t.columns:
        amount = _number(t.amount)
        ret = _is_true(t.is_return) if "is_return" in t.columns else ibis.literal(False)
        rules.append(
            (
                "amount",
                "must not be negative (a refund is a row with is_return true)",
                (amount < 0).fill_null(False) & ~ret,
                t.amount,
            )
        )
        rules.append(
            (
                "amount",
                "must be zero or negative on a return row (is_return true: money given back)",
                (amount > 0).fill_null(False) & ret,
                t.amount,
            )
        )
    return rules


def _row_names(spec: TableSpec, t) -> list[str]:
    """Columns that name a row in examples: the table's key, else its member and time."""
    key = [c for c in spec.key if c in t.columns]
    if key and len(key) == len(spec.key):
        return key
    return [c for c in ("member_id", "campaign_id", "ts") if c in t.columns]


def _norm(col):
    return _text(col) if _is_text(col) else col


def _table_rules(spec: TableSpec, where: str, t, as_of, tiers) -> tuple[list[Violation], int]:
    rules = column_rules(spec, t, as_of, tiers)
    counts = (
        t.aggregate(_rows=t.count(), **{f"r{i}": e.ifelse(1, 0).sum() for i, (_, _, e, _) in enumerate(rules)})
        .to_pandas()
        .iloc[0]
    )
    names = _row_names(spec, t)
    out = []
    for i, (col, rule, broken, shown) in enumerate(rules):
        n = int(counts[f"r{i}"] or 0)
        if not n:
            continue
        ex = (
            t.filter(broken)
            .select(*[t[c].name(f"_k{j}") for j, c in enumerate(names)], _v=shown.cast("string"))
            .order_by([f"_k{j}" for j in range(len(names))])
            .limit(MAX_EXAMPLES)
            .to_pandas()
        )
        examples = tuple(
            ", ".join(f"{c}={_value(r[f'_k{j}'])}" for j, c in enumerate(names)) + f": {_value(r['_v'])}"
            for _, r in ex.iterrows()
        )
        out.append(Violation(spec.name, where, col, rule, n, examples))
    return out, int(counts["_rows"])


def _key_rule(spec: TableSpec, where: str, t) -> Violation | None:
    key = [c for c in spec.key if c in t.columns]
    if not key or len(key) != len(spec.key):
        return None
    g = t.select(**{c: _norm(t[c]) for c in key}).group_by(key).aggregate(n=ibis._.count()).filter(ibis._.n > 1)
    total = g.n.sum().to_pandas()
    if not total or pd.isna(total):
        return None
    dup = g.order_by([ibis.desc("n"), *key]).limit(MAX_EXAMPLES).to_pandas()
    ex = tuple(", ".join(f"{c}={_value(r[c])}" for c in key) + f" ({r['n']} times)" for _, r in dup.iterrows())
    return Violation(spec.name, where, ", ".join(key), "must be unique (duplicate key)", int(total), ex)


def _reference_rules(spec: TableSpec, where: str, t, tables: dict, wheres: dict) -> list[Violation]:
    out = []
    for col, target in spec.refs.items():
        ref_table, ref_col = target.split(".")
        if col not in t.columns or ref_table not in tables or ref_col not in tables[ref_table].columns:
            continue
        known = tables[ref_table].select(_r=_text(tables[ref_table][ref_col])).filter(ibis._._r.notnull()).distinct()
        mine = t.select(v=_text(t[col])).filter(ibis._.v.notnull())
        missing = mine.anti_join(known, mine.v == known._r)
        n = int(missing.count().to_pandas() or 0)
        if n:
            ex = missing.select("v").distinct().order_by("v").limit(MAX_EXAMPLES).to_pandas()["v"]
            out.append(
                Violation(
                    spec.name,
                    where,
                    col,
                    f"must refer to a known {ref_table[:-1]} in {wheres[ref_table]}",
                    n,
                    tuple(_value(e) for e in ex),
                )
            )
    return out


def _duplicate_rows(spec: TableSpec, where: str, t) -> Violation | None:
    if spec.name != "transactions" or "txn_id" in t.columns:
        return None
    copies = t.group_by(list(t.columns)).aggregate(_n=ibis._.count()).filter(ibis._._n > 1)
    amount = _number(copies.amount)
    res = copies.aggregate(n=(copies._n - 1).sum(), extra=((copies._n - 1) * amount).sum()).to_pandas().iloc[0]
    n = 0 if pd.isna(res["n"]) else int(res["n"])
    if not n:
        return None
    extra = float(res["extra"] or 0)
    total = float(t.aggregate(s=_number(t.amount).sum()).to_pandas()["s"].iloc[0] or 0)
    ex = (
        copies.order_by([ibis.desc("_n"), "member_id", "ts"])
        .limit(MAX_EXAMPLES)
        .select("member_id", "ts", "amount", "_n")
        .to_pandas()
    )
    share = f" ({extra / total:.1%} of the spend)" if total else ""
    return Violation(
        spec.name,
        where,
        None,
        f"rows that are exact copies of another row, with no txn_id to tell purchases apart: a doubled export adds "
        f"{extra:,.2f}{share}; remove the copies, or add txn_id if they are real repeat purchases",
        n,
        tuple(
            f"member_id={_value(r['member_id'])}, ts={_value(r['ts'])}, amount={_value(r['amount'])} ({r['_n']} times)"
            for _, r in ex.iterrows()
        ),
    )


def validate_tables(name: str, tables: dict, wheres: dict, as_of: dt.date, tiers: tuple[str, ...]) -> ValidationReport:
    """Check the source's ``tables`` (contract name -> Ibis table) against the contract, in the engine.

    ``wheres`` names each contract table's source table in messages; ``name`` is the source as
    reports show it. Returns the same :class:`~analysis.data.validation.ValidationReport` as for files.
    """
    violations: list[Violation] = []
    warned: list[Violation] = []
    row_counts: dict[str, int] = {}
    usable = {}
    for tname, spec in TABLES.items():
        if tname not in tables:
            if spec.required_table:
                violations.append(Violation(tname, wheres[tname], None, "required table is missing", 0))
            continue
        t = tables[tname]
        missing = [c for c in spec.required if c not in t.columns]
        for col in missing:
            violations.append(
                Violation(tname, wheres[tname], col, "required column is missing", 0, (f"columns found: {', '.join(t.columns)}",))
            )
        if missing:
            continue
        found, n = _table_rules(spec, wheres[tname], t, as_of, tiers)
        row_counts[tname] = n
        violations.extend(found)
        for col in t.columns:
            zone = getattr(t[col].type(), "timezone", None) if t[col].type().is_timestamp() else None
            if zone and spec.kind(col) in ("date", "timestamp"):
                warned.append(
                    Violation(
                        tname,
                        wheres[tname],
                        col,
                        f"timestamps carry the time zone {zone}: read as wall-clock "
                        f"time in {zone} (export the mall's local time if that is not it)",
                        0,
                    )
                )
        if n == 0 and not spec.may_be_empty:
            violations.append(Violation(tname, wheres[tname], None, "table is empty (no data rows)", 0))
        usable[tname] = t
    if "contacts" in usable and "campaigns" not in tables:
        violations.append(
            Violation(
                "contacts",
                wheres["contacts"],
                "campaign_id",
                f"contacts need the campaigns they belong to: {wheres['campaigns']} is missing",
                0,
            )
        )
    for tname, t in usable.items():
        spec = TABLES[tname]
        dup = _key_rule(spec, wheres[tname], t)
        if dup is not None:
            violations.append(dup)
        violations.extend(_reference_rules(spec, wheres[tname], t, usable, wheres))
    if not violations and "transactions" in usable:
        dup = _duplicate_rows(TABLES["transactions"], wheres["transactions"], usable["transactions"])
        if dup is not None:
            warned.append(dup)
    return ValidationReport(name, as_of, row_counts, tuple(violations), tuple(warned), origins=dict(wheres))
