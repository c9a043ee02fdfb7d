"""Settings files read strictly: one declared schema per file, checked before anything else.

mallwake reads three kinds of settings file: a plan file (``mallwake plan``), a data folder's
``mallwake.yaml`` and a connection file (``*.yaml`` naming a database or Spark). Each is:

* a **regular file of bounded size** (a FIFO, a device or a 2 GB file is refused, never read);
* **plain YAML**: a key written twice, and anchors or aliases (``&a``/``*a``, ``<<:``), are
  refused, since they make one value silently stand for another;
* checked against a **pydantic model** (types, ranges, allowed values, unknown keys refused
  with the nearest known key as "did you mean").

Every refusal is a :class:`~analysis.data.params.ParameterError` whose one line names the file, the
key and what is allowed; the commands print it and exit 2 before reading data or writing files.
"""

from __future__ import annotations

import datetime as dt
import difflib
import os
import stat
import typing
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

import yaml

from analysis.data.config import SPARK_ENGINES, languages
from analysis.data.contract import TABLES
from analysis.data.errors import ParameterError

#: A settings file larger than this is not a settings file.
MAX_SETTINGS_BYTES = 1_000_000


class _StrictLoader(yaml.SafeLoader):
    """YAML without duplicate keys, anchors or aliases."""

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise yaml.constructor.ConstructorError(
                None, None, "anchors and aliases (&name, *name, <<:) are not allowed: write each value out", event.start_mark
            )
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=False):
        seen: dict = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.get(key)
            except TypeError:  # an unhashable key: SafeLoader reports it
                break
            if first is not None:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} is given twice (first on line {first}); give it once", key_node.start_mark
                )
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


def read_settings_file(path: str | Path, what: str):
    """The YAML value in ``path`` (a ``what``: "plan", "connection file", ...), read strictly.

    Refuses (:class:`ParameterError`) a path that is not a regular file, a file larger than
    :data:`MAX_SETTINGS_BYTES`, text that is not UTF-8, and YAML with duplicate keys or anchors.
    The file is opened without blocking, so a FIFO never hangs the command.
    """
    return parse_settings(read_settings_bytes(path, what), path, what)


def read_settings_bytes(path: str | Path, what: str) -> bytes:
    """The bytes of the settings file ``path``: a regular file of at most :data:`MAX_SETTINGS_BYTES`,
    opened without blocking (else :class:`ParameterError`)."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as err:
        raise ParameterError(f"{path}: cannot read the {what} ({err.strerror})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ParameterError(f"{path}: the {what} must be a regular file (this is a {_kind(info.st_mode)})")
        if info.st_size > MAX_SETTINGS_BYTES:
            raise ParameterError(
                f"{path}: the {what} is {info.st_size:,} bytes; a settings file is at most {MAX_SETTINGS_BYTES:,}"
            )
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(MAX_SETTINGS_BYTES + 1)
    finally:
        os.close(fd)
    return data


def parse_settings(data: bytes, path: str | Path, what: str):
    """The YAML value of a settings file's bytes, read strictly (UTF-8, no duplicate keys, no anchors)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ParameterError(f"{path}: the {what} is not UTF-8 text (byte {err.start})") from None
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ParameterError(f"{path}:{where}: not valid YAML ({err.problem or err.context})") from None
    except yaml.YAMLError as err:
        raise ParameterError(f"{path}: not valid YAML ({str(err).splitlines()[0]})") from None
    except ValueError as err:  # a date YAML cannot build, e.g. 2024-13-40
        raise ParameterError(f"{path}: a date is not a date ({err}); write dates as YYYY-MM-DD") from None


def read_regular_file(path: str | Path, what: str, limit: int) -> Path:
    """``path`` if it is a regular file of at most ``limit`` bytes, else :class:`ParameterError`
    (for files given by name, such as a plan's ``chosen_list``: a FIFO would hang the reader)."""
    path = Path(path)
    try:
        info = os.stat(path)
    except OSError as err:
        raise ParameterError(f"{path}: cannot read the {what} ({err.strerror})") from None
    if not stat.S_ISREG(info.st_mode):
        raise ParameterError(f"{path}: the {what} must be a regular file (this is a {_kind(info.st_mode)})")
    if info.st_size > limit:
        raise ParameterError(f"{path}: the {what} is {info.st_size:,} bytes; at most {limit:,} are read")
    return path


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "folder"),
        (stat.S_ISFIFO, "FIFO"),
        (stat.S_ISSOCK, "socket"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
    ):
        if test(mode):
            return name
    return "special file"


def did_you_mean(key: str, allowed) -> str:
    """`` (did you mean 'x'?)`` for the allowed name nearest to ``key``, else ``""``."""
    close = difflib.get_close_matches(str(key), [str(a) for a in allowed], n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def validation_message(path, err, model) -> str:
    """One line from a pydantic ``ValidationError`` of ``model``: the file, each key, the rule."""
    parts = []
    for e in err.errors()[:3]:
        e = dict(e, loc=tuple(x for x in e["loc"] if not _is_type_tag(x)))  # union branches: 'str', 'DisplayName'
        loc = ".".join(str(x) for x in e["loc"])
        if e["type"] == "extra_forbidden":
            parent = model
            for x in e["loc"][:-1]:  # the allowed keys of the mapping the unknown key is in
                field = getattr(parent, "model_fields", {}).get(x)
                parent = _submodel(field) if field is not None else parent
            allowed = [k for k, f in getattr(parent, "model_fields", {}).items() if not (f.json_schema_extra or {}).get("hidden")]
            parts.append(f"unknown key '{loc}'{did_you_mean(e['loc'][-1], allowed)}; allowed: {', '.join(allowed)}")
            continue
        msg = e["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        got = e.get("input")
        shown = "" if e["type"] in ("missing",) or isinstance(got, (dict, list)) else f" (got {got!r})"
        parts.append(f"{f'{loc!r}: ' if loc else ''}{msg[0].lower() + msg[1:] if msg else msg}{shown if loc else ''}")
    more = len(err.errors()) - len(parts)
    return f"{path}: " + "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def _is_type_tag(part) -> bool:
    return isinstance(part, str) and (
        part in ("str", "int", "float", "bool", "list", "dict", "date") or part[:1].isupper() and part.isidentifier()
    )


def _submodel(field):
    """The model inside a field's annotation (``Arm`` of ``dict[str, Arm]``), if any."""
    ann = field.annotation
    stack = [ann]
    while stack:
        t = stack.pop()
        if isinstance(t, type) and hasattr(t, "model_fields"):
            return t
        stack.extend(typing.get_args(t))
    return None


# --- the data folder's mallwake.yaml ----------------------------------------------------------


def _schema():  # pydantic is imported only when a settings file is checked
    from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, create_model, field_validator

    def text(value):
        if isinstance(value, bool):
            return value  # refused: text expected
        if isinstance(value, (int, float)):
            return str(value)
        if isinstance(value, dt.date):
            return value.isoformat()
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return ",".join(value)  # a YAML list for a comma-separated parameter
        return value

    Text = Annotated[str, BeforeValidator(text)]
    Days = Field(default=None, ge=1, le=36_500)

    def language(value):
        if value is not None and value not in languages():
            raise ValueError(f"not a language of the reports; one of {', '.join(languages())}")
        return value

    Lang = Annotated[str, AfterValidator(language)]
    DisplayName = create_model(  # a name per language of the reports
        "DisplayName", __config__=ConfigDict(extra="forbid", strict=True), **{code: (str | None, None) for code in languages()}
    )

    class DataSettings(BaseModel):
        """The keys a data folder's ``mallwake.yaml`` may hold: the data's own settings (tiers,
        display names, currency) and defaults for the notebooks' parameters."""

        model_config = ConfigDict(extra="forbid", strict=True)
        tiers: list[Annotated[str, Field(min_length=1, pattern=r"\S")]] | None = Field(default=None, min_length=1)
        display_names: dict[str, str | DisplayName] | None = None
        currency: Text | None = None
        export_dir: Text | None = Field(default=None, json_schema_extra={"hidden": True})  # refused, with the reason
        output_dir: Text | None = Field(default=None, json_schema_extra={"hidden": True})
        settings_applied: bool | None = Field(default=None, json_schema_extra={"hidden": True})
        fit_cache_dir: Text | None = Field(default=None, json_schema_extra={"hidden": True})
        # defaults for the notebooks' parameters (checked against the notebooks by the tests)
        target_tier: Text | None = None
        tier_filter: Text | None = None
        tier_thresholds: Text | None = None
        list_date: Text | None = None
        report_month: Text | None = None
        migration_from: Text | None = None
        naive_campaign: Text | None = None
        before_campaign: Text | None = None
        before_arm: Text | None = None
        after_campaign: Text | None = None
        after_arm: Text | None = None
        factorial_campaign: Text | None = None
        control_arm: Text | None = None
        planned_allocation: Text | None = None
        channel: Literal["sms", "call", "wechat", "call_wechat"] | None = None
        gift_levels: Text | None = None
        channel_levels: Text | None = None
        covariates: Text | None = None
        subgroups: Text | None = None
        uplift_features: Text | None = None
        cluster_method: Literal["gmm", "kmeans"] | None = None
        n_clusters: int | None = Field(default=None, ge=0, le=50)
        margin_rate: Text | None = None
        budget: Text | None = None
        margin: float | None = Field(default=None, ge=0, le=1)
        alpha: float | None = Field(default=None, gt=0, le=0.2)
        min_effect: float | None = Field(default=None, gt=0, lt=1)
        min_invalid_share: float | None = Field(default=None, ge=0, le=1)
        monthly_discount: float | None = Field(default=None, ge=0, lt=1)
        min_cell: int | None = Field(default=None, ge=1)
        response_days: int | None = Field(default=None, ge=0, le=36_500)
        sleeping_days: int | None = Days
        lookback_days: int | None = Days
        cooling_days: int | None = Days
        lost_days: int | None = Days
        warn_days: int | None = Days
        window_days: int | None = Days
        risk_horizon_days: int | None = Days
        calibration_months: int | None = Field(default=None, ge=1, le=120)
        horizon_months: int | None = Field(default=None, ge=1, le=120)
        show_solutions: bool | None = None
        lang: Lang | None = None

        @field_validator("export_dir", "output_dir", "settings_applied", "fit_cache_dir")
        @classmethod
        def _runner_only(cls, value, info):
            why = (
                ": files with member ids go to --exports DIR/<label>/, outside the report site"
                if info.field_name in ("export_dir", "output_dir")
                else ""
            )
            raise ValueError(f"is set by the runner, not by you{why}")

        @field_validator("margin_rate", "budget")
        @classmethod
        def _money(cls, value, info):
            if value is None or not value.strip():
                return value
            try:
                number = float(value)
            except ValueError:
                raise ValueError("must be a number (or empty: unknown)") from None
            top = 1 if info.field_name == "margin_rate" else float("inf")
            if not 0 <= number <= top:
                raise ValueError("must be between 0 and 1" if top == 1 else "must be a number >= 0")
            return value

    return DataSettings


_DATA_SETTINGS = None


def data_settings_model():
    """The pydantic model of a data folder's ``mallwake.yaml`` (built once)."""
    global _DATA_SETTINGS
    if _DATA_SETTINGS is None:
        _DATA_SETTINGS = _schema()
    return _DATA_SETTINGS


def check_data_settings(path, loaded: dict) -> dict:
    """``loaded`` (the mapping in ``path``) if it follows :func:`data_settings_model`, else
    :class:`ParameterError` naming the file and key (unknown keys with a "did you mean")."""
    from pydantic import ValidationError

    model = data_settings_model()
    try:
        model.model_validate(loaded)
    except ValidationError as err:
        raise ParameterError(validation_message(path, err, model)) from None
    return loaded


# --- connection files -------------------------------------------------------------------------

_CONNECTION = None


def connection_model():
    """The pydantic model of a connection file (``engine``/``url``, ``schema``, ``tables``, ``spark``)."""
    global _CONNECTION
    if _CONNECTION is not None:
        return _CONNECTION

    from pydantic import BaseModel, ConfigDict, Field, model_validator

    Name = Annotated[str, Field(min_length=1, pattern=r"\S")]

    class SparkSettings(BaseModel):
        model_config = ConfigDict(extra="forbid", strict=True)
        master: Name | None = None
        conf: dict[str, str | int | float | bool] = {}

    class ConnectionFile(BaseModel):
        """A connection file: the engine, its URL (secrets as ``${NAME}``), the tables, Spark's settings."""

        model_config = ConfigDict(extra="forbid", strict=True)
        engine: Name | None = None
        url: Name | None = None
        schema_: Name | None = Field(default=None, alias="schema")
        tables: dict[str, Name | dict[str, Name]] = {}
        spark: SparkSettings = SparkSettings()
        copy_: bool | None = Field(default=None, alias="copy")

        @model_validator(mode="after")
        def _consistent(self):
            try:
                scheme = urlsplit(self.url or "").scheme
            except ValueError as err:
                raise ValueError(f"'url' is not a valid URL ({err}); write it as engine://user@host:port/database") from None
            engine = (self.engine or scheme.split("+")[0]).lower()
            if not engine:
                raise ValueError("a connection file names its 'engine' (postgres, pyspark, ...) or a 'url'")
            if engine not in SPARK_ENGINES and not self.url:
                raise ValueError(f"engine {engine} needs a url (for example postgres://user@host:5432/db)")
            unknown = sorted(set(self.tables) - set(TABLES))
            if unknown:
                raise ValueError(
                    f"'tables' names {', '.join(unknown)}, which the contract does not have (tables: {', '.join(TABLES)})"
                )
            if self.copy_ and engine in SPARK_ENGINES:
                raise ValueError("'copy' is for databases: Spark reads its tables in the cluster, where they are")
            for name, ref in self.tables.items():
                if isinstance(ref, dict) and (engine not in SPARK_ENGINES or set(ref) - {"parquet", "csv"} or len(ref) != 1):
                    raise ValueError(
                        f"tables.{name} must name a table (schema.table)"
                        + ("; or, on Spark, {parquet: path} or {csv: path}" if engine in SPARK_ENGINES else "")
                    )
            return self

    _CONNECTION = ConnectionFile
    return _CONNECTION


def read_connection_file(path: Path) -> dict:
    """The checked settings of connection file ``path``: ``engine`` (lower case), ``url``,
    ``schema``, ``tables``, ``spark``, ``copy``; :class:`ParameterError` naming the file and key."""
    from pydantic import ValidationError

    loaded = read_settings_file(path, "connection file")
    if not isinstance(loaded, dict):
        raise ParameterError(f"{path}: a connection file is a mapping with 'engine' (postgres, pyspark, ...) or 'url'")
    model = connection_model()
    try:
        conn = model.model_validate(loaded)
    except ValidationError as err:
        raise ParameterError(validation_message(path, err, model)) from None
    engine = (conn.engine or urlsplit(conn.url or "").scheme.split("+")[0]).lower()
    return {
        "engine": engine,
        "url": conn.url,
        "schema": conn.schema_,
        "tables": dict(conn.tables),
        "spark": conn.spark.model_dump(exclude_none=True),
        "copy": conn.copy_,
    }
