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
@click.option("--notebooks-dir", default=None, type=click.Path(file_okay=False),
              help="Step notebooks whose parameters are checked (default: the workbench's).")
def validate(config, notebooks_dir):
    """Validate CONFIG and print the plan, before any kernel starts.

    Prints rows read / accepted / quarantined per table, then per step what
    will run and what will be skipped and why, and checks the step
    parameters. Exit codes: 0 ok, 1 a source cannot be read, 2 the config is
    invalid, 3 the data or a parameter does not fit the run (interactions
    accept 0 rows, no interaction in the window, no cx_metric value in the
    window, an unknown step parameter or a column name the data lacks).
    """
    from .pipeline.preflight import validate_command

    sys.exit(validate_command(config, notebooks_dir))


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
                     help="Where runs land (default: ./reports of the working directory).")(f)
    f = click.option("--notebooks-dir", default=None, type=click.Path(file_okay=False, exists=True),
                     help="Step notebooks to run (default: the workbench's notebooks/).")(f)
    return f


def _report_run(result, quiet):
    run_dir = Path(result.run_dir)
    brief = run_dir / "07_brief.html"
    click.echo(f"report: {brief if brief.exists() else run_dir}")
    if not quiet:
        click.echo(f"latest: {run_dir.parent / 'latest'}")


def _execute(**kwargs):
    """Run, and turn every way a run can stop into a message and an exit code (never a traceback).

    Exit codes: 0 ok; 1 a step failed, a source cannot be read or a file of
    the run cannot be written (disk full, read-only folder); 2 the config is
    invalid; 3 the data or a parameter does not fit (see ``cxlab validate``);
    130 / 143 interrupted by SIGINT / SIGTERM. A stopped run is marked failed
    (manifest status and ``FAILED``) and 'latest' does not move.
    """
    from . import pipeline as runner
    from .errors import ParameterError, SourceError
    from .pipeline.preflight import PreflightFailed
    from .pipeline.safety import RunInterrupted, RunWriteError

    try:
        result = runner.run(**kwargs)
    except runner.RunFailed as exc:
        run_dir = getattr(getattr(exc, "result", None), "run_dir", None)
        click.echo(f"error: {exc}", err=True)
        if run_dir is not None:
            click.echo(f"the failed run (with its rendered error) is in {run_dir}; "
                       "the previous good run and 'latest' are untouched", err=True)
        sys.exit(1)
    except RunInterrupted as exc:
        click.echo(f"error: run interrupted by {exc.signame}; it is marked failed and 'latest' is untouched",
                   err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("error: run interrupted; 'latest' is untouched", err=True)
        sys.exit(130)
    except RunWriteError as exc:
        click.echo(f"error: {exc}; the run is marked failed where it could be and 'latest' is untouched",
                   err=True)
        sys.exit(1)
    except PreflightFailed as exc:
        click.echo(f"error: {exc}\n(nothing was run; see `cxlab validate` for the plan)", err=True)
        sys.exit(exc.exit_code)
    except ParameterError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(3)
    except SourceError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except CxlabError as exc:
        _fail(exc)
    except OSError as exc:  # anything else the file system refused: one line, no traceback
        click.echo(f"error: {exc.strerror or exc}{f' ({exc.filename})' if exc.filename else ''}", err=True)
        sys.exit(1)
    _report_run(result, kwargs.get("quiet", False))


@main.command()
@click.argument("config", type=click.Path(exists=True, dir_okay=False))
@_run_options
def run(config, jobs, only, timeout, quiet, reports_dir, notebooks_dir):
    """Execute the step notebooks for CONFIG into reports/<name>/<run-id>/.

    The checks of `cxlab validate` run first; nothing starts when they fail.
    """
    _execute(config=config, jobs=jobs, only=only, timeout=timeout, quiet=quiet, reports_dir=reports_dir,
             notebooks_dir=notebooks_dir)


@main.command()
@_run_options
def demo(jobs, only, timeout, quiet, reports_dir, notebooks_dir):
    """Run the whole workbench on the embedded sample center (no config needed)."""
    _execute(config=None, jobs=jobs, only=only, timeout=timeout, quiet=quiet, reports_dir=reports_dir,
             notebooks_dir=notebooks_dir)


@main.command(name="email")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--to", "to", multiple=True, required=True, help="Recipient (repeat, or separate with commas).")
@click.option("--smtp-host", default="localhost", show_default=True)
@click.option("--port", default=None, type=int, help="SMTP port [default: 465 with --ssl, 587 with --starttls, else 25].")
@click.option("--starttls", is_flag=True, help="Upgrade the connection with STARTTLS (certificate verified).")
@click.option("--ssl", "use_ssl", is_flag=True, help="Implicit TLS from the first byte (port 465; certificate verified).")
@click.option("--cafile", default=None, type=click.Path(exists=True, dir_okay=False),
              help="PEM file of the CA(s) to trust for the server certificate (a private CA).")
@click.option("--insecure", is_flag=True,
              help="Allow the login over plain TCP, only to a loopback test server (127.0.0.1, ::1, localhost).")
@click.option("--sender", default=None, help="From address (default $CXLAB_SMTP_FROM).")
@click.option("--subject", default=None, help="Default: the run's title, the pilot verdict, the run.")
@click.option("--attach-html", is_flag=True, help="Also attach the HTML reports of the run.")
@click.option("--attach-run", is_flag=True,
              help="Also attach the run folder as a zip (never quarantine/ or raw rows unless privacy allows).")
@click.option("--no-pdf", is_flag=True, help="Do not attach the brief as PDF.")
@click.option("--dry-run", is_flag=True, help="Write the .eml next to the run folder instead of sending.")
@click.option("--out", default=None, type=click.Path(dir_okay=False), help="Where --dry-run writes the .eml.")
def email_cmd(run_dir, to, smtp_host, port, starttls, use_ssl, cafile, insecure, sender, subject,
              attach_html, attach_run, no_pdf, dry_run, out):
    """Email the brief of RUN_DIR: an email-safe body and the brief as PDF.

    The login comes only from $CXLAB_SMTP_USER and $CXLAB_SMTP_PASSWORD and is
    sent only over verified TLS (--starttls or --ssl); over plain TCP it is
    refused, except with --insecure to a loopback test server.
    """
    from .brief.mailer import send_run

    notes: list[str] = []
    try:
        path = send_run(run_dir, to=list(to), smtp_host=smtp_host, port=port, starttls=starttls,
                        use_ssl=use_ssl, cafile=cafile, insecure=insecure, sender=sender, subject=subject,
                        attach_html=attach_html, attach_run=attach_run, pdf=not no_pdf, dry_run=dry_run,
                        out=out, notes=notes)
    except CxlabError as exc:
        _fail(exc)
    for note in notes:
        click.echo(f"note: {note}", err=True)
    click.echo(f"wrote {path}" if dry_run else f"sent to {', '.join(to)}")


if __name__ == "__main__":  # pragma: no cover
    main()
