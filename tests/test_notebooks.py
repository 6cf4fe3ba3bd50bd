"""Static checks of the committed step notebooks (nbval checks their outputs)."""

import json
import re
from pathlib import Path

import pytest

NB_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NB_DIR.glob("[0-9][0-9]_*.ipynb"))
COMMON = ["config_path", "run_dir", "cx_metric", "window_start", "window_end", "grain", "seed"]


def load(path):
    return json.loads(path.read_text(encoding="utf-8"))


def code(nb):
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def test_the_seven_steps_exist():
    assert [p.name[:2] for p in NOTEBOOKS] == ["01", "02", "03", "04", "05", "06", "07"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_common_parameters_first_and_setup_names_the_step(path):
    nb = load(path)
    cells = code(nb)
    params = cells[0]
    assert "parameters" in params["metadata"].get("tags", []), "first code cell must be the parameters cell"
    names = [re.match(r"(\w+)\s*:", line).group(1) for line in "".join(params["source"]).splitlines()
             if re.match(r"\w+\s*:", line)]
    assert names[: len(COMMON)] == COMMON
    src = "".join("".join(c["source"]) for c in cells)
    assert f'step="{path.stem}"' in src, "nb.setup must record results under the notebook's own stem"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_steps_read_only_what_they_declare(path):
    """A notebook that reads another step's results must depend on it, so --jobs
    runs it after that step (otherwise a parallel run differs from a serial one)."""
    nb = load(path)
    src = "".join("".join(c["source"]) for c in code(nb))
    deps = nb["metadata"].get("cxlab", {}).get("depends_on", [])
    for step in re.findall(r'ctx\.results\("(\d\d)', src):
        assert deps in ("*", "all") or step in [d[:2] for d in deps], f"{path.stem} reads {step} but does not depend on it"
    if "ctx.results()" in src:
        assert deps in ("*", "all"), f"{path.stem} reads every step's results; depends_on must be '*'"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_outputs_are_committed_and_clean(path):
    nb = load(path)
    outs = [o for c in code(nb) for o in c.get("outputs", [])]
    assert outs, "committed without outputs: nbval would compare nothing"
    assert not [o for o in outs if o.get("output_type") == "error"]
    text = json.dumps(outs)
    assert not re.search(r"/(work|tmp|root|home)/[\w.-]+/", text), "an output holds a machine path"
    assert not re.search(r"at 0x[0-9a-f]{6,}", text), "an output holds a memory address"
    assert "papermill" not in nb["metadata"]
