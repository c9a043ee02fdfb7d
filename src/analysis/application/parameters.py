"""The parameters of a run: which notebooks, what each declares, what the command line, the data folder's
``mallwake.yaml`` and the runner give each one, and the data labels they name (checked before anything runs)."""

from __future__ import annotations

import ast
import datetime as dt
import re
from pathlib import Path

import pandas as pd
import papermill as pm

from analysis.data.config import NOTEBOOKS_DIR
from analysis.data.dataset import load_dataset
from analysis.data.params import DATA_PARAMS_FILE, ParameterError, parameter_value

COMMON_PARAMETERS = ("data_dir", "as_of")


def discover_notebooks(notebooks_dir: Path = NOTEBOOKS_DIR, only: list[str] | None = None) -> list[Path]:
    """The notebooks to run, in name order; ``only`` selects by stem or file name."""
    paths = sorted(Path(notebooks_dir).glob("*.ipynb"))
    if only:
        wanted = {Path(o).stem for o in only}
        unknown = wanted - {p.stem for p in paths}
        if unknown:
            names = ", ".join(p.stem for p in paths)
            raise ParameterError(f"unknown notebook(s) {', '.join(sorted(unknown))}; available: {names}")
        paths = [p for p in paths if p.stem in wanted]
    return paths


def declared_parameters(path: Path) -> dict[str, dict]:
    """Parameters a notebook declares in its ``parameters`` cell: name -> type and default."""
    return {
        name: {"type": p["inferred_type_name"], "default": p["default"]} for name, p in pm.inspect_notebook(str(path)).items()
    }


def check_parameters(notebooks: list[Path], params: dict, defaults: dict | None = None) -> dict[Path, dict]:
    """Parameters per notebook, coerced to the declared types; rejects unknown names.

    ``defaults`` (a data folder's ``mallwake.yaml``) fill in what ``params`` does not set, for
    the notebooks that declare them; names no notebook declares are ignored there.
    """
    declared = {nb: declared_parameters(nb) for nb in notebooks}
    known = set().union(*declared.values()) if declared else set()
    unknown = sorted(set(params) - known)
    if unknown:
        raise ParameterError(
            f"unknown parameter(s) {', '.join(unknown)}; the selected notebooks declare: {', '.join(sorted(known))}"
        )
    out = {}
    for nb, decl in declared.items():
        given = {k: parameter_value(k, v, decl[k]["type"], nb.name) for k, v in params.items() if k in decl}
        from_data = {
            k: parameter_value(k, v, decl[k]["type"], f"{nb.name} (from {DATA_PARAMS_FILE})")
            for k, v in (defaults or {}).items()
            if k in decl and k not in given and k not in COMMON_PARAMETERS
        }
        out[nb] = from_data | given
        if "settings_applied" in decl:  # the notebook then leaves its parameters as given (analysis.application.notebook.start)
            out[nb]["settings_applied"] = True
    return out


#: Parameters naming a tier, a campaign, or an arm of a campaign: checked against the data before running.
TIER_PARAMETERS = ("target_tier", "tier_filter", "tier")


CAMPAIGN_PARAMETERS = ("naive_campaign", "before_campaign", "after_campaign", "factorial_campaign")


ARM_PARAMETERS = {"before_arm": "before_campaign", "after_arm": "after_campaign"}


def check_data_references(data_dir: Path, as_of: str | None, per_nb: dict[Path, dict]) -> None:
    """Refuse (:class:`ParameterError`) a parameter that names a tier, campaign or arm the data lack."""
    merged: dict = {}
    for params in per_nb.values():
        merged |= params
    if not any(k in merged for k in (*TIER_PARAMETERS, *CAMPAIGN_PARAMETERS, *ARM_PARAMETERS, "control_arm")):
        return
    data = load_dataset(data_dir, as_of=as_of)
    tiers = set(data.members.select("tier").distinct().to_pandas()["tier"].dropna())
    arms = data.contacts.select("campaign_id", "arm").distinct().to_pandas()
    campaigns = set(data.campaigns.campaign_id.to_pandas())
    problems = []
    for name in TIER_PARAMETERS:
        for value in [v.strip() for v in str(merged.get(name) or "").split(",") if v.strip() and v.strip() != "all"]:
            if value not in tiers:
                problems.append(f"{name}={value!r} is not a tier in the data (tiers: {', '.join(sorted(tiers))})")
    for name in CAMPAIGN_PARAMETERS:
        value = str(merged.get(name) or "").strip()
        if value and value not in campaigns:
            listed = ", ".join(sorted(campaigns)) or "none"
            problems.append(f"{name}={value!r} is not a campaign in the data (campaigns: {listed})")
    for name, campaign_param in ARM_PARAMETERS.items():
        value, cid = str(merged.get(name) or "").strip(), str(merged.get(campaign_param) or "").strip()
        have = set(arms.loc[arms["campaign_id"] == cid, "arm"])
        if value and cid in campaigns and value not in have:
            problems.append(f"{name}={value!r} is not an arm of {cid} (arms: {', '.join(sorted(have))})")
    control = str(merged.get("control_arm") or "").strip()
    if control and len(arms) and control not in set(arms["arm"]):
        problems.append(f"control_arm={control!r} is not an arm of any campaign (arms: {', '.join(sorted(set(arms['arm'])))})")
    if problems:
        raise ParameterError("; ".join(problems))


def parse_assignments(pairs: list[str]) -> dict[str, str]:
    """``["a=1", "b=x"]`` -> ``{"a": "1", "b": "x"}``."""
    out = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise ParameterError(f"parameter {pair!r} must look like NAME=VALUE")
        k, v = pair.split("=", 1)
        out[k.strip()] = v
    return out


#: Parameters that are folders on the machine that ran the report: not listed in its provenance.
_PATH_PARAMETERS = ("data_dir", "output_dir", "export_dir", "fit_cache_dir")


def _default_text(default: str):
    """A default as the notebook writes it (``"abc"``, ``3``, ``True``) as a value."""
    try:
        return ast.literal_eval(default)
    except (ValueError, SyntaxError):
        return default


#: Parameters the runner sets and nobody else: where a run's files with member ids go is ``--exports``.
RUNNER_PARAMETERS = ("export_dir", "output_dir", "settings_applied", "fit_cache_dir")


def refuse_runner_parameters(user: dict, data_params: dict, data_dir) -> None:
    """:class:`ParameterError` when ``-p`` (``user``) or the data folder's ``mallwake.yaml``
    (``data_params``) sets a parameter only the runner may set (``export_dir``: contact lists
    could then land in the report site)."""
    given = [name for name in RUNNER_PARAMETERS if name in user]
    in_file = [name for name in RUNNER_PARAMETERS if name in data_params]
    if given or in_file:
        where = "-p" if given else f"{Path(data_dir) / 'mallwake.yaml'}"
        names = given or in_file
        why = (
            ": files with member ids go to --exports DIR/<label>/, outside the report site"
            if {"export_dir", "output_dir"} & set(names)
            else ""
        )
        raise ParameterError(f"{', '.join(names)} ({where}) is set by the runner, not by you{why}")


def parse_month(value: str) -> pd.Timestamp:
    """``"2024-11"`` (or a ``YYYY-MM-DD`` date, or a timestamp) -> the first day of that month."""
    if isinstance(value, (pd.Timestamp, dt.date)):
        return pd.Timestamp(value).to_period("M").to_timestamp()
    if not re.fullmatch(r"\d{4}-\d{2}(-\d{2})?", str(value).strip()):
        raise ValueError(f"not a month: {value!r} (expected YYYY-MM)")
    try:
        return pd.Period(str(value).strip()[:7], freq="M").to_timestamp()
    except (ValueError, TypeError) as err:
        raise ValueError(f"not a month: {value!r} (expected YYYY-MM)") from err
