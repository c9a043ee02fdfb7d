"""The ``mallwake`` command line: demo-data, validate, run, plan, handout, grade."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from analysis.data.config import DEMO_DATA_DIR, NOTEBOOKS_DIR, REPORTS_DIR, SOURCE_LANGUAGE, languages
from analysis.data.errors import EXIT_BAD_INPUT, MallwakeError

#: What a refused command adds after its message (nothing was written).
NOTHING_WRITTEN = {"plan": "no plan written", "run": "no report written"}


def _demo(args) -> int:
    from analysis.statistics.synthetic import generate_mall

    out = generate_mall(args.out, n_members=args.members, seed=args.seed, study=args.study)
    print(f"wrote synthetic Mall A ({args.members:,} members, seed {args.seed}, {args.study} study) to {out}")
    return 0


def _validate(args) -> int:
    from analysis.data.params import parse_as_of
    from analysis.data.sources import is_source, parse_source
    from analysis.data.validation import validate_data_dir

    name = args.data_dir
    as_of = parse_as_of(args.as_of)
    if is_source(args.data_dir):  # a database or Spark: the rules run as queries in the engine
        from analysis.data.dataset import validate_source

        name = parse_source(args.data_dir).name
        report = validate_source(args.data_dir, as_of=as_of, strict=args.strict).report
    else:
        report = validate_data_dir(args.data_dir, as_of=as_of, strict=args.strict)
    for msg in report.warning_messages():
        print(f"{name}: warning: {msg}", file=sys.stderr)
    if report.ok:
        counts = ", ".join(f"{k} {v:,}" for k, v in report.row_counts.items())
        print(f"{name}: valid ({counts})")
        return 0
    print(f"{name}: {len(report.violations)} broken rule(s)", file=sys.stderr)
    for msg in report.messages():
        print(f"  - {msg}", file=sys.stderr)
    return EXIT_BAD_INPUT


def _handout(args) -> int:
    from analysis.application.handout import write_handout
    from analysis.data.config import TEACHING_DIR

    data = Path(args.data) if args.data else DEMO_DATA_DIR
    if data == DEMO_DATA_DIR and not (data / "members.csv").exists():
        from analysis.statistics.synthetic import generate_mall

        print(f"demo data not found: generating it in {data}")
        generate_mall(data)
    try:
        written = write_handout(Path(args.notebooks) if args.notebooks else TEACHING_DIR, Path(args.out), data)
    except ValueError as err:
        print(f"mallwake: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    for path in written:
        print(f"wrote {path}")
    return 0


def _grade(args) -> int:
    from analysis.application.grading import grade

    data = Path(args.data) if args.data else DEMO_DATA_DIR
    table = grade(Path(args.submissions), Path(args.out), data, timeout=args.timeout)
    done = table[table["status"] != "failed"]["notebook"].count()
    print(
        f"mallwake: graded {table[['student', 'notebook']].drop_duplicates().shape[0]} notebook(s) of "
        f"{table['student'].nunique()} student(s) ({(table['status'] == 'failed').sum()} failed, {done} exercise row(s))"
    )
    print(f"wrote {Path(args.out) / 'scores.csv'}\nwrote {Path(args.out) / 'scores.html'}")
    return 0


def _plan(args) -> int:
    from analysis.data.dataset import load_dataset
    from analysis.data.storage import check_folder, mark_folder, new_folder
    from analysis.statistics.plan import make_plan, read_plan, write_plan

    check_folder(Path(args.exports), "--exports")  # a file, or a folder mallwake did not make: refused
    spec = read_plan(args.plan)  # checked whole (campaign_id a plain name) before any data is read
    data = load_dataset(args.data, as_of=args.as_of)  # a folder or a source
    plan = make_plan(data, spec)
    with new_folder(Path(args.exports) / "plans" / spec.campaign_id) as out:  # removed again if writing fails
        paths = write_plan(plan, out)
        mark_folder(Path(args.exports))
    sizes = ", ".join(f"{r.arm} {r.members:,}" for r in plan.table().itertuples())
    weakest = plan.power["power"].min()
    print(
        f"mallwake: {spec.campaign_id}: {len(plan.contacts):,} members from the {plan.record['list']['rule']} ({sizes}); "
        f"power {weakest:.0%} for a lift of {spec.min_detectable_lift * 100:.1f} points over a baseline of {plan.baseline_rate:.1%} "
        f"(a list of {plan.needed:,} reaches {spec.power:.0%})"
    )
    unbalanced = plan.balance[~plan.balance["balanced"]]
    if len(unbalanced):
        print(
            f"mallwake: warning: {len(unbalanced)} covariate(s) differ by more than 0.1 SD between arms: "
            + ", ".join(f"{r.arm}/{r.covariate}" for r in unbalanced.head(5).itertuples()),
            file=sys.stderr,
        )
    for path in paths:
        print(f"wrote {path}")
    return 0


def _run(args) -> int:
    """Start the kernels' imports first (a zygote, :mod:`analysis.application.kernelfork`): they then overlap
    the runner's own imports and the validation, instead of following them."""
    from analysis.application import kernelfork
    from analysis.data.config import MONTHLY_NOTEBOOK

    monthly = bool(args.month or args.months)
    notebooks = [MONTHLY_NOTEBOOK] if monthly else sorted(Path(args.notebooks or NOTEBOOKS_DIR).glob("*.ipynb"))
    if args.jobs > 1 and (monthly or len(notebooks) > 1):
        kernelfork.limit_threads(args.jobs)  # before the zygote imports numpy
    with kernelfork.zygote(kernelfork.notebook_imports(notebooks)) as launcher:
        return _run_with(args, launcher)


def _run_with(args, launcher) -> int:
    from analysis.application.parameters import parse_assignments
    from analysis.application.runner import ParameterError, parse_as_of, run_months, run_reports
    from analysis.data.storage import check_label

    data_dir = args.data  # a folder or a source: the runner resolves it
    if args.label is not None:
        check_label(args.label)
    parse_as_of(args.as_of)
    if args.data == str(DEMO_DATA_DIR) and not (Path(data_dir) / "members.csv").exists():
        from analysis.statistics.synthetic import generate_mall

        print(f"demo data not found: generating it in {data_dir}")
        generate_mall(data_dir)
    params = parse_assignments(args.param)
    if args.month or args.months:
        from analysis.application.monthly import last_complete_month, parse_month_range
        from analysis.data.dataset import load_dataset

        if args.month and args.months:
            raise ParameterError("give --month or --months, not both")
        given = [opt for opt, value in (("--label", args.label), ("--only", args.only), ("--notebooks", args.notebooks)) if value]
        if given:  # a month's folder is named by its month and language, and it has one notebook
            raise ParameterError(f"{', '.join(given)} do(es) not apply to monthly reports (--month/--months)")
        if args.month == "latest":
            months = [last_complete_month(load_dataset(data_dir, as_of=args.as_of))]
        else:
            try:
                months = parse_month_range(args.months or args.month)
            except ValueError as err:
                raise ParameterError(str(err)) from None
        results = run_months(
            data_dir,
            months,
            as_of=args.as_of,
            out_dir=Path(args.out),
            params=params,
            lang=args.lang,
            force=args.force,
            show_code=args.show_code,
            jobs=args.jobs,
            exports_dir=Path(args.exports) if args.exports else None,
            strict=args.strict,
            launcher=launcher,
        )
        return 0 if all(r.ok for r in results) else 1
    if args.lang != "en":
        params["lang"] = args.lang
    result = run_reports(
        data_dir,
        as_of=args.as_of,
        out_dir=Path(args.out),
        only=args.only,
        params=params,
        show_code=args.show_code,
        label=args.label,
        jobs=args.jobs,
        notebooks_dir=Path(args.notebooks) if args.notebooks else NOTEBOOKS_DIR,
        exports_dir=Path(args.exports) if args.exports else None,
        strict=args.strict,
        force=args.force,
        launcher=launcher,
    )
    return 0 if result.ok else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mallwake", description="Member analytics reports for shopping malls.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo-data", help="write the synthetic Mall A data directory")
    p.add_argument("--members", type=int, default=50_000)
    p.add_argument("--seed", type=int, default=20240101)
    p.add_argument("--out", default=str(DEMO_DATA_DIR))
    p.add_argument(
        "--study",
        choices=("full", "small", "null"),
        default="full",
        help="the crossed gift x channel wave: full (default; its effects show), small (a quarter of the gold "
        "list: too few to show them, for teaching power) or null (no gift or channel effect)",
    )
    p.set_defaults(func=_demo)

    p = sub.add_parser("handout", help="write student copies of the teaching notebooks (solution cells removed)")
    p.add_argument("out", help="folder for the student notebooks (not notebooks/teaching itself)")
    p.add_argument("--notebooks", default=None, help="teaching notebooks to copy (default notebooks/teaching)")
    p.add_argument("--data", default=None, help="data folder copied beside them as DIR/data (default: the demo data)")
    p.set_defaults(func=_handout)

    p = sub.add_parser("grade", help="execute the notebooks students handed in (safely) and score their self-checks")
    p.add_argument("submissions", help="folder of submitted notebooks: <student>/<notebook>.ipynb or <student>.ipynb")
    p.add_argument("--out", required=True, help="folder for scores.csv and scores.html")
    p.add_argument("--data", default=None, help="the class's data folder (default: the demo data)")
    p.add_argument("--timeout", type=int, default=120, help="seconds one cell may run (default 120)")
    p.set_defaults(func=_grade)

    p = sub.add_parser("validate", help="check a data directory (or a database or Spark source) against the data contract")
    p.add_argument("data_dir", help="a data directory, a source URL (postgres://user@host/db) or a connection file (*.yaml)")
    p.add_argument("--as-of", default=None, help="analysis date (default: today)")
    p.add_argument("--strict", action="store_true", help="treat warnings (e.g. exact duplicate transactions) as errors")
    p.set_defaults(func=_validate)

    p = sub.add_parser("plan", help="draw the next wave's list, randomize it into arms within strata, pre-register it")
    p.add_argument("plan", help="the plan file (YAML: campaign_id, start_date, arms with shares, ...; see the README)")
    p.add_argument(
        "--data",
        default=str(DEMO_DATA_DIR),
        help="data directory, source URL or connection file (*.yaml); default: the demo data",
    )
    p.add_argument("--as-of", default=None, help="analysis date YYYY-MM-DD (default: last date in the data)")
    p.add_argument(
        "--exports",
        default="exports",
        metavar="DIR",
        help="the contact file, balance and pre-registration go to DIR/plans/<campaign_id>/ (default: exports)",
    )
    p.set_defaults(func=_plan)

    p = sub.add_parser("run", help="execute the notebooks and render the HTML reports")
    p.add_argument(
        "--data",
        default=str(DEMO_DATA_DIR),
        help="data directory, source URL (postgres://user@host/db) or connection file (*.yaml); default: the demo data",
    )
    p.add_argument("--as-of", default=None, help="analysis date YYYY-MM-DD (default: last date in the data)")
    p.add_argument("--only", action="append", help="run only this notebook (repeatable)")
    p.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE", help="notebook parameter (repeatable)")
    p.add_argument("--out", default=str(REPORTS_DIR), help="reports directory (default: reports/)")
    p.add_argument("--label", default=None, help="run label, a plain name (default: <data dir>-<as of>)")
    p.add_argument(
        "--exports",
        default=None,
        metavar="DIR",
        help="where files with member ids go, as DIR/<label>/ (default: exports/ beside --out)",
    )
    p.add_argument("--jobs", type=int, default=2, help="notebooks executed in parallel")
    p.add_argument("--show-code", action="store_true", help="keep code cells in the HTML")
    p.add_argument(
        "--strict", action="store_true", help="treat validation warnings (e.g. exact duplicate transactions) as errors"
    )
    p.add_argument("--notebooks", default=None, help="run the notebooks of this folder (e.g. notebooks/teaching)")
    p.add_argument(
        "--month",
        default=None,
        metavar="YYYY-MM",
        help="build the monthly report of this month ('latest': the last complete month)",
    )
    p.add_argument(
        "--months",
        default=None,
        metavar="YYYY-MM..YYYY-MM",
        help="backfill the monthly report of every month in the range (months already built are skipped)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="execute every notebook even when its inputs did not change (and rebuild months already built)",
    )
    p.add_argument("--lang", default=SOURCE_LANGUAGE, choices=languages(), help="language of the monthly report")
    p.set_defaults(func=_run)
    return parser


def main(argv: list[str] | None = None) -> int:
    from analysis.data.storage import is_disk_full

    # nbformat validates with jsonschema, whose IRI format checker imports rfc3987_syntax, which
    # compiles a Lark grammar at import: 2.4 s before a run starts (python-jsonschema/jsonschema#1428).
    # The notebook schema has no IRI formats; the command's process goes without that checker (set
    # here, before the first module that imports nbformat: the runner does the same for API use).
    sys.modules.setdefault("rfc3987_syntax", None)
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except MallwakeError as err:  # the one place errors become messages and exit codes
        print(f"mallwake: {err}", file=sys.stderr)
        if err.exit_code == EXIT_BAD_INPUT and args.command in NOTHING_WRITTEN:
            print(f"mallwake: {NOTHING_WRITTEN[args.command]}", file=sys.stderr)
        return err.exit_code
    except OSError as err:  # a disk full before any report (the lock, the plan folder): one line, exit 1
        if not is_disk_full(err):
            raise
        where = getattr(err, "filename", None) or getattr(args, "out", None) or getattr(args, "exports", None) or "."
        print(f"mallwake: no space left on the device of {where}: nothing written", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
