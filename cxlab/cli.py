"""The ``cxlab`` command line (click). Each command is a thin shell over a function."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from . import __version__
from .errors import CxlabError


def _fail(exc: Exception) -> None:
    click.echo(f"error: {exc}", err=True)
    sys.exit(2)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cxlab")
def main():
    """cxlab: which operational levers move CSAT / NPS / CES, and did changing them work?"""


@main.command()
@click.argument("path", type=click.Path(dir_okay=False), default="cxlab.yaml")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def init(path, force):
    """Write a commented starter run config to PATH (default cxlab.yaml)."""
    from .config import starter_config

    p = Path(path)
    if p.exists() and not force:
        _fail(CxlabError(f"{p} exists; use --force to overwrite"))
    p.write_text(starter_config(), encoding="utf-8")
    click.echo(f"wrote {p} — edit the sources, then: cxlab validate {p}")


@main.command()
@click.argument("config", type=click.Path(exists=True, dir_okay=False))
def validate(config):
    """Load and validate the sources of CONFIG; print read / accepted / quarantined per table."""
    from .data import validate_command

    sys.exit(validate_command(config))


@main.command()
@click.option("--out", "out", required=True, type=click.Path(file_okay=False), help="Output folder.")
@click.option("--days", default=365, show_default=True, type=int, help="Days to simulate from 2025-01-01.")
@click.option("--contacts-per-day", default=1000, show_default=True, type=int, help="Mean contacts a day.")
@click.option("--seed", default=20251, show_default=True, type=int, help="Random seed.")
@click.option("--format", "fmt", default="parquet", show_default=True, type=click.Choice(["parquet", "csv"]))
def sample(out, days, contacts_per_day, seed, fmt):
    """Write the sample contact center (all canonical tables + ground_truth.json) to OUT."""
    from .sample import main_sample

    try:
        main_sample(out, days, contacts_per_day, seed, fmt)
    except (CxlabError, ValueError) as exc:
        _fail(exc)


def _run_options(f):
    f = click.option("--jobs", "-j", default=1, show_default=True, type=int,
                     help="Run independent steps in parallel.")(f)
    f = click.option("--only", default=None, help="Re-run one step (e.g. 04) into the latest run folder.")(f)
    f = click.option("--timeout", default=600, show_default=True, type=int, help="Per-cell timeout, seconds.")(f)
    f = click.option("--quiet", "-q", is_flag=True, help="Print nothing but errors and the report path.")(f)
    f = click.option("--reports-dir", default=None, type=click.Path(file_okay=False),
                     help="Where runs land (default: ./reports).")(f)
    return f


def _report_run(result, quiet):
    run_dir = Path(result.run_dir)
    brief = run_dir / "07_brief.html"
    click.echo(f"report: {brief if brief.exists() else run_dir}")
    if not quiet:
        click.echo(f"latest: {run_dir.parent / 'latest'}")


def _execute(**kwargs):
    from . import pipeline as runner

    try:
        result = runner.run(**kwargs)
    except runner.RunFailed as exc:
        run_dir = getattr(getattr(exc, "result", None), "run_dir", None)
        click.echo(f"error: {exc}", err=True)
        if run_dir is not None:
            click.echo(f"the failed run (with its rendered error) is in {run_dir}; "
                       "the previous good run and 'latest' are untouched", err=True)
        sys.exit(1)
    except CxlabError as exc:
        _fail(exc)
    _report_run(result, kwargs.get("quiet", False))


@main.command()
@click.argument("config", type=click.Path(exists=True, dir_okay=False))
@_run_options
def run(config, jobs, only, timeout, quiet, reports_dir):
    """Execute the step notebooks for CONFIG into reports/<name>/<run-id>/."""
    _execute(config=config, jobs=jobs, only=only, timeout=timeout, quiet=quiet, reports_dir=reports_dir)


@main.command()
@_run_options
def demo(jobs, only, timeout, quiet, reports_dir):
    """Run the whole workbench on the embedded sample center (no config needed)."""
    _execute(config=None, jobs=jobs, only=only, timeout=timeout, quiet=quiet, reports_dir=reports_dir)


@main.command(name="email")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--to", "to", multiple=True, required=True, help="Recipient (repeat for several).")
@click.option("--smtp-host", default="localhost", show_default=True)
@click.option("--port", default=25, show_default=True, type=int)
@click.option("--starttls", is_flag=True, help="Upgrade the connection with STARTTLS.")
@click.option("--sender", default=None, help="From address (default $CXLAB_SMTP_FROM).")
@click.option("--subject", default=None)
@click.option("--dry-run", is_flag=True, help="Write the .eml next to the run folder instead of sending.")
def email_cmd(run_dir, to, smtp_host, port, starttls, sender, subject, dry_run):
    """Email the brief of RUN_DIR (HTML body) with the whole run as a zip.

    Credentials come only from $CXLAB_SMTP_USER and $CXLAB_SMTP_PASSWORD.
    """
    from .brief.mailer import send_run

    try:
        path = send_run(run_dir, to=list(to), smtp_host=smtp_host, port=port, starttls=starttls,
                        sender=sender, subject=subject, dry_run=dry_run)
    except CxlabError as exc:
        _fail(exc)
    click.echo(f"wrote {path}" if dry_run else f"sent to {', '.join(to)}")


if __name__ == "__main__":  # pragma: no cover
    main()
