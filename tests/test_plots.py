"""Every figure function follows one protocol: ``ax=None`` (or ``axes=None``) to draw into given
Axes, ``**kwargs`` passed to its main artist, and the Axes returned; figures carry alt text."""

import inspect

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from analysis.presentation import plots  # noqa: E402

FUNCTIONS = [f for name, f in inspect.getmembers(plots, inspect.isfunction) if name.startswith("plot_")]


def test_every_plot_function_takes_ax_and_kwargs():
    assert len(FUNCTIONS) >= 20
    for f in FUNCTIONS:
        params = inspect.signature(f).parameters
        target = "ax" if "ax" in params else "axes" if "axes" in params else None
        if f.__name__ != "plot_cluster_pairs":  # seaborn's pair grid draws its own figure
            assert target and params[target].default is None, f.__name__
        assert any(p.kind is p.VAR_KEYWORD for p in params.values()), f.__name__


def test_plots_draw_into_the_given_axes_pass_kwargs_and_return_them():
    fig, ax = plt.subplots()
    table = pd.DataFrame({"label": ["a / gold", "b"], "return_rate": [0.1, 0.2], "ci_low": [0.05, 0.1], "ci_high": [0.15, 0.3]})
    assert plots.plot_rates_with_intervals(table, "label", ax=ax, color="#123456") is ax
    assert ax.get_xlabel() == "Return rate"
    assert any(matplotlib.colors.to_hex(line.get_color()) == "#123456" for line in ax.get_lines())
    kpis = pd.DataFrame(
        {
            "tier": "all",
            "month": pd.date_range("2024-01-01", periods=3, freq="MS"),
            "active": [10, 12, 11],
            "spend": [1e6, 2e6, 3e6],
        }
    )
    fig, axes = plt.subplots(1, 2)
    got = plots.plot_kpi_trends(kpis, {}, columns=("active", "spend"), axes=axes)
    assert list(got) == list(axes)
    # money in plain units with the currency, no offset
    from analysis.presentation.formats import configure

    configure(currency="¥")
    fig.canvas.draw()
    assert all(t.get_text().startswith("¥") for t in axes[1].get_yticklabels() if t.get_text())
    assert axes[1].yaxis.get_offset_text().get_text() == ""
    configure()
    plt.close("all")


def test_figure_alt_text_says_what_the_figure_shows():
    fig, (a, b) = plt.subplots(1, 2)
    a.plot([1, 2], [3, 4], label="gold")
    a.set_title("Spend by month")
    a.set_xlabel("month")
    a.set_ylabel("spend")
    a.legend()
    b.bar(["x"], [1])
    b.set_ylabel("members")
    assert plots.figure_alt(fig) == "Figure: Spend by month: spend by month (gold); members"
    empty = plt.figure()
    assert plots.figure_alt(empty) == "Figure without labels"
    plt.close("all")


def test_tiers_keep_their_order_and_colour_across_figures_and_the_holdout_is_grey(tmp_path):
    import numpy as np

    from analysis.presentation.formats import configure

    (tmp_path / "mallwake.yaml").write_text("tiers: [bronze, silver, gold]\n")
    configure(tmp_path)
    try:
        curves = pd.DataFrame(
            {
                "group": np.repeat(["gold", "bronze", "silver"], 3),
                "time": [0, 10, 20] * 3,
                "survival": [1, 0.8, 0.6] * 3,
                "ci_low": [1, 0.7, 0.5] * 3,
                "ci_high": [1, 0.9, 0.7] * 3,
            }
        )
        ax = plots.plot_survival(curves)
        legend = [t.get_text() for t in ax.get_legend().get_texts()]
        assert legend == ["bronze", "Silver", "Gold"], "tier order (display names), not alphabetical"
        survival_colors = {t: matplotlib.colors.to_hex(line.get_color()) for t, line in zip(legend, ax.get_lines())}
        cohorts = pd.DataFrame({"silver": [3, 4], "gold": [1, 2], "bronze": [5, 6]}, index=[2022, 2023])
        ax2 = plots.plot_join_cohorts(cohorts)
        bars = {
            t.get_text(): matplotlib.colors.to_hex(h.get_facecolor())
            for t, h in zip(ax2.get_legend().get_texts(), ax2.get_legend().legend_handles)
        }
        assert bars == survival_colors, "a tier has one colour in every figure"
        outcomes = pd.DataFrame(
            {
                "campaign_id": "C",
                "arm": ["holdout", "sms", "call"] * 4,
                "response_days": 10,
                "days_to_return": [1.0, 2.0, np.nan] * 4,
            }
        )
        ax3 = plots.plot_cumulative_returns(outcomes, "C")
        colors = {
            t.get_text().split(" (")[0]: matplotlib.colors.to_hex(line.get_color())
            for t, line in zip(ax3.get_legend().get_texts(), ax3.get_lines())
        }
        assert colors["holdout"] == plots.HOLDOUT_COLOR
    finally:
        configure()
        plt.close("all")


def test_panels_keep_their_text_readable_at_the_pages_width():
    """Many panels side by side were shrunk to the page's width with their text (6 px); panels now go
    two to a row and the figure is never wider than the column."""
    import matplotlib.pyplot as plt

    from analysis.presentation.plots import MIN_TEXT_PX, panels, smallest_text_px

    for n in range(1, 7):
        fig, axes = panels(n)
        assert len(axes) == n and len(fig.axes) == n
        for ax in axes:
            ax.plot([1, 2], [1, 2])
            ax.set_title("title")
        assert smallest_text_px(fig) >= MIN_TEXT_PX, (n, smallest_text_px(fig))
        plt.close(fig)
    wide, axes = plt.subplots(1, 4, figsize=(26, 3.5))  # the old layout: four panels in a row
    for ax in axes:
        ax.plot([1, 2], [1, 2])
    assert smallest_text_px(wide) < MIN_TEXT_PX
    plt.close(wide)
