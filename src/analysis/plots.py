"""All figures. Every function takes ``ax=None`` and returns the Axes; nothing is shown or saved."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns


def _ax(ax, figsize=(8, 4)):
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def plot_monthly_activity(monthly: pd.DataFrame, column: str = "spend", ax=None, label: str | None = None):
    """Line chart of one monthly series from :func:`~analysis.overview.compute_monthly_activity`."""
    ax = _ax(ax)
    sns.lineplot(data=monthly, x="month", y=column, marker="o", ax=ax, label=label)
    ax.set_xlabel("")
    ax.set_ylabel(column.replace("_", " "))
    ax.grid(alpha=0.3)
    return ax


def plot_members_by_tier(by_tier: pd.DataFrame, ax=None):
    """Bar chart of members per tier."""
    ax = _ax(ax, (6, 3.5))
    sns.barplot(data=by_tier, x="tier", y="members", ax=ax, color="#4c72b0")
    for p, share in zip(ax.patches, by_tier["share"]):
        ax.annotate(f"{share:.0%}", (p.get_x() + p.get_width() / 2, p.get_height()), ha="center", va="bottom")
    ax.set_xlabel("card tier")
    return ax


def plot_join_cohorts(cohorts: pd.DataFrame, ax=None):
    """Stacked bars: members by join year and tier."""
    ax = _ax(ax, (7, 3.5))
    cohorts.plot(kind="bar", stacked=True, ax=ax, colormap="viridis")
    ax.set_xlabel("join year")
    ax.set_ylabel("members")
    ax.legend(title="tier", frameon=False)
    return ax
