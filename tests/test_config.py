"""Run config: typed, validated, unknown keys rejected with a hint."""

import datetime as dt

import pytest
import yaml

from cxlab.config import default_config, load_config, starter_config
from cxlab.errors import ConfigError


def write(tmp_path, text):
    p = tmp_path / "run.yaml"
    p.write_text(text)
    return p


def test_default_is_the_sample():
    cfg = default_config()
    assert cfg.uses_sample
    assert cfg.cx_metric == "csat"
    assert cfg.kpis.sl_threshold_s == 20 and cfg.kpis.fcr_window_days == 7
    assert cfg.window.start == dt.date(2025, 1, 1)


def test_starter_config_is_valid(tmp_path):
    p = write(tmp_path, starter_config())
    cfg = load_config(p)
    assert cfg.sources["interactions"].mapping.rename["ContactID"] == "interaction_id"
    # relative paths resolve against the config's folder
    assert cfg.resolve("exports/x.csv") == str(tmp_path / "exports" / "x.csv")


def test_unknown_top_level_key_suggests(tmp_path):
    p = write(tmp_path, "cx_metrc: nps\n")
    with pytest.raises(ConfigError, match=r"cx_metrc: unknown key \(did you mean 'cx_metric'\?\)"):
        load_config(p)


def test_unknown_nested_key_suggests(tmp_path):
    p = write(tmp_path, "kpis:\n  sl_threshold: 30\n")
    with pytest.raises(ConfigError, match=r"kpis.sl_threshold: unknown key \(did you mean 'sl_threshold_s'\?\)"):
        load_config(p)


def test_unknown_mapping_key_suggests(tmp_path):
    p = write(tmp_path, "sources:\n  interactions:\n    path: a.csv\n    mapping: {renames: {}}\n")
    with pytest.raises(ConfigError, match=r"renames: unknown key \(did you mean 'rename'\?\)"):
        load_config(p)


def test_bad_values_are_named(tmp_path):
    p = write(tmp_path, "cx_metric: happiness\nwindow: {start: 2025-03-01, end: 2025-01-01}\n")
    with pytest.raises(ConfigError) as exc:
        load_config(p)
    msg = str(exc.value)
    assert "cx_metric" in msg and "happiness" in msg
    assert "window" in msg and "before window.start" in msg


def test_unknown_table_and_timezone(tmp_path):
    p = write(tmp_path, "timezone: Mars/Olympus\nsources:\n  interaktions: {path: a.csv}\n")
    with pytest.raises(ConfigError) as exc:
        load_config(p)
    assert "unknown time zone 'Mars/Olympus'" in str(exc.value)
    assert "did you mean 'interactions'" in str(exc.value)


def test_yaml_is_loaded_safely(tmp_path):
    p = write(tmp_path, "name: !!python/object/apply:os.system ['echo hacked']\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(p)


def test_missing_file_and_non_mapping(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")
    p = write(tmp_path, "- a\n- b\n")
    with pytest.raises(ConfigError, match="must hold a mapping"):
        load_config(p)


@pytest.mark.parametrize("bad", ["/tmp/x", "../../x", "a/b", "..", ".hidden", "", "a..b", "name with space"])
def test_run_name_is_a_plain_name(tmp_path, bad):
    # a run name becomes a folder under --reports-dir; it must not escape it
    path = tmp_path / "c.yaml"
    path.write_text(f"name: {bad!r}\n")
    with pytest.raises(ConfigError, match="not a plain name"):
        load_config(path)


@pytest.mark.parametrize("good", ["demo", "my-center", "bank_2025.q1"])
def test_plain_run_names_are_accepted(tmp_path, good):
    path = tmp_path / "c.yaml"
    path.write_text(f"name: {good}\n")
    assert load_config(path).name == good


@pytest.mark.parametrize("query, kind", [
    ("SELECT 1; ATTACH 'u.duckdb' AS u", "ATTACH"),
    ("SELECT 1; DELETE FROM calls", "DELETE"),
    ("COPY (SELECT 1) TO 'out.csv'", "COPY"),
    ("INSTALL httpfs", "LOAD"),
    ("LOAD httpfs", "LOAD"),
    ("PRAGMA enable_profiling", "PRAGMA"),
    ("SET threads = 1", "SET"),
    ("CALL pragma_version()", "CALL"),
    ("CREATE TABLE t AS SELECT 1", "CREATE"),
    ("DROP TABLE calls", "DROP"),
    ("INSERT INTO calls VALUES (1)", "INSERT"),
    ("UPDATE calls SET x = 1", "UPDATE"),
    ("EXPLAIN SELECT 1", "EXPLAIN"),
])
def test_source_query_must_be_one_select(tmp_path, query, kind):
    # issue 17: a config query could change the user's database or write files
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"sources": {"interactions": {"path": "x.duckdb", "query": query}}}))
    with pytest.raises(ConfigError, match=f"exactly one SELECT.*{kind}"):
        load_config(path)


def test_source_query_select_and_with_are_accepted(tmp_path):
    path = tmp_path / "c.yaml"
    q = "WITH c AS (SELECT * FROM calls WHERE queue <> 'ivr') SELECT * FROM c"
    path.write_text(yaml.safe_dump({"sources": {"interactions": {"path": "x.duckdb", "query": q}}}))
    assert load_config(path).sources["interactions"].query == q
