"""Project-wide defaults: paths, tier levels, analysis thresholds.

Nothing here has side effects on import (no logging, no file access), because every
notebook imports it and anything printed would land in the reports.
"""

from __future__ import annotations

import os
import re
from functools import cache
from pathlib import Path

#: The installed package (``src/analysis``): its templates, message catalogs and, in a wheel, notebooks.
PACKAGE_DIR = Path(__file__).resolve().parents[1]
#: Repository root when running from a source checkout (``src/analysis`` -> repo).
PROJECT_DIR = PACKAGE_DIR.parent.parent
#: Whether this is a source checkout (``make report``) or an installed wheel, whose notebooks
#: are inside the package (``setup.py`` copies them there) and whose demo data and reports go to
#: the folder the command runs in.
SOURCE_CHECKOUT = (PROJECT_DIR / "notebooks").is_dir() and (PROJECT_DIR / "pyproject.toml").is_file()
_HOME = PROJECT_DIR if SOURCE_CHECKOUT else Path.cwd()

#: The languages of the reports: one folder each under ``analysis/locales/`` with its
#: ``language.yaml`` and catalogs (:mod:`analysis.presentation.languages`); English, the language
#: of the message ids, first. Adding a language is adding a folder. ``MALLWAKE_LOCALES`` (folders
#: separated by the path separator) adds language folders kept outside the package: a translator's
#: work in progress, or the generated pseudo-language of the tests. A folder never replaces one
#: of the package's languages.
LOCALES_DIR = PACKAGE_DIR / "locales"
SOURCE_LANGUAGE = "en"


@cache
def language_folders() -> dict[str, Path]:
    """``{language code: its folder}`` (read once per process)."""
    found: dict[str, Path] = {}
    extra = [Path(p) for p in os.environ.get("MALLWAKE_LOCALES", "").split(os.pathsep) if p.strip()]
    for root in (LOCALES_DIR, *extra):
        if root.is_dir():
            for folder in sorted(root.iterdir()):
                if (folder / "language.yaml").is_file() and re.fullmatch(r"[a-z]{2,3}(-[A-Za-z0-9]+)?", folder.name):
                    found.setdefault(folder.name, folder)
    return found


def languages() -> tuple[str, ...]:
    """Every language a report can be written in, the source language first."""
    return (SOURCE_LANGUAGE, *sorted(c for c in language_folders() if c != SOURCE_LANGUAGE))


#: The engines of a source that run on Spark (``pyspark`` in-process or a ``spark://`` cluster).
SPARK_ENGINES = ("pyspark", "spark")
#: Where a data folder keeps the pre-registration records of its campaigns (``<campaign_id>.json``).
PREREGISTRATION_DIR = "preregistrations"
#: The data folder's own settings file (its tiers, display names, currency, study roles).
DATA_PARAMS_FILE = "mallwake.yaml"
DEMO_DATA_DIR = _HOME / "data" / "demo"
NOTEBOOKS_DIR = PROJECT_DIR / "notebooks" if SOURCE_CHECKOUT else PACKAGE_DIR / "notebooks"
REPORTS_DIR = _HOME / "reports"
MONTHLY_NOTEBOOK = NOTEBOOKS_DIR / "monthly" / "monthly_report.ipynb"
TEACHING_DIR = NOTEBOOKS_DIR / "teaching"

#: Card tiers, lowest first. Configurable per mall (see ``load_dataset(tiers=...)``).
DEFAULT_TIERS: tuple[str, ...] = ("normal", "silver", "gold", "platinum")

#: Days without a purchase after which a member counts as sleeping.
SLEEPING_DAYS = 180

#: Smallest group shown in a table of groups; smaller cells are suppressed.
MIN_CELL_SIZE = 10

#: Age bands used by every report (upper edges inclusive), one definition for all.
AGE_BAND_EDGES: tuple[float, ...] = (0, 24, 34, 44, 54, 64, 200)
AGE_BAND_LABELS: tuple[str, ...] = ("<25", "25-34", "35-44", "45-54", "55-64", "65+")

#: Days of purchases behind every RFM score (segmentation, monthly movements, campaign segments):
#: one definition, so "Champions" means the same members in every report for the same date.
RFM_WINDOW_DAYS = 365
