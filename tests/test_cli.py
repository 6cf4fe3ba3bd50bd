"""The command line: init, validate, sample, email (run/demo are covered by test_run/test_demo)."""

import json

import pandas as pd
from click.testing import CliRunner

from cxlab.cli import main


def test_init_writes_a_valid_starter(tmp_path):
    runner = CliRunner()
    path = tmp_path / "c.yaml"
    res = runner.invoke(main, ["init", str(path)])
    assert res.exit_code == 0, res.output
    assert "cxlab validate" in res.output
    again = runner.invoke(main, ["init", str(path)])
    assert again.exit_code == 2 and "exists; use --force" in again.output


def test_sample_then_validate_roundtrip(tmp_path):
    runner = CliRunner()
    out = tmp_path / "center"
    res = runner.invoke(main, ["sample", "--out", str(out), "--days", "14", "--contacts-per-day", "100",
                               "--seed", "7", "--format", "csv"])
    assert res.exit_code == 0, res.output
    truth = json.loads((out / "ground_truth.json").read_text())
    assert truth["seed"] == 7
    inter = next(out.glob("interactions*"))
    surveys = next(out.glob("surveys*"))
    cfg = tmp_path / "run.yaml"
    cfg.write_text(
        "timezone: America/New_York\n"
        f"sources:\n  interactions: {{path: {inter}}}\n  surveys: {{path: {surveys}}}\n"
    )
    res = runner.invoke(main, ["validate", str(cfg)])
    assert res.exit_code == 0, res.output + str(res.exception)
    n = len(pd.read_csv(inter))
    assert "interactions" in res.output and f"{n:,}".replace(",", "") in res.output.replace(",", "")


def test_validate_names_the_missing_file(tmp_path):
    cfg = tmp_path / "run.yaml"
    cfg.write_text("sources:\n  interactions: {path: nowhere/contacts_*.csv}\n")
    res = CliRunner().invoke(main, ["validate", str(cfg)])
    assert res.exit_code != 0
    assert "contacts_*.csv" in res.output


def test_validate_bad_config_key(tmp_path):
    cfg = tmp_path / "run.yaml"
    cfg.write_text("cx_metrik: nps\n")
    res = CliRunner().invoke(main, ["validate", str(cfg)])
    assert res.exit_code != 0 and "did you mean 'cx_metric'" in res.output
