"""Regenerate the tiny step notebooks that tests/test_run.py runs.

    .venv/bin/python tests/run_fixtures/make_fixtures.py

They follow the notebook conventions of docs/DEVELOPING.md (a tagged,
annotated parameters cell that starts with the common block) but need
nothing of cxlab except :mod:`cxlab.results`, so the run machinery is
tested apart from the real notebooks. 02_plot takes a ``fail`` parameter
to inject a failure: an exception, a killed kernel or a hung cell.

Help comments hold no "=": papermill skips a parameters line with more than
one "=" (it cannot tell the comment apart), so its help would be lost.
"""

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

COMMON = '''\
config_path: str = ""  # run config YAML; empty: the embedded sample center
run_dir: str = ""  # run folder to record results in; empty: the scratch run in the cache
cx_metric: str = "csat"  # csat | nps | ces
window_start: str = "2025-01-01"  # first day of the analysis window (inclusive)
window_end: str = "2025-12-31"  # last day of the analysis window (inclusive)
grain: str = "day"  # period grain: day | week
seed: int = 20251  # seed for every random draw in this notebook
'''


def notebook(title, extra_params, cells, depends_on=None):
    params = new_code_cell(COMMON + extra_params)
    params.metadata["tags"] = ["parameters"]
    nb = new_notebook(cells=[new_markdown_cell(f"# {title}"), params, *cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    if depends_on is not None:
        nb.metadata["cxlab"] = {"depends_on": depends_on}
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i}"
    return nb


NOTEBOOKS = {
    "01_data": notebook(
        "Fixture step 1: data",
        'n_rows: int = 50  # rows to draw from the seeded generator\n',
        [
            new_code_cell(
                "import numpy as np\n\n"
                "from cxlab import results\n\n"
                "rng = np.random.default_rng(seed)\n"
                "x = rng.normal(size=n_rows)"
            ),
            new_code_cell(
                'results.record(run_dir, "01_data", "mean", x.mean())\n'
                'results.record(run_dir, "01_data", "row_counts", {"draws": n_rows})\n'
                'print(f"mean of {n_rows} draws: {x.mean():.6f}")'
            ),
            new_markdown_cell("The draws are seeded, so the mean is the same in every run."),
        ],
    ),
    "02_plot": notebook(
        "Fixture step 2: a plot",
        'fail: str = ""  # failure to inject: "" | raise | kill | sleep\n',
        [
            new_code_cell(
                "import matplotlib.pyplot as plt\n"
                "import numpy as np\n\n"
                "from cxlab import results\n\n"
                'base = results.load(run_dir, "01_data")["mean"]'
            ),
            new_code_cell(
                "fig, ax = plt.subplots(figsize=(3, 2))\n"
                "ax.plot(np.arange(5), np.arange(5) * base)\n"
                'ax.set_title("a line");'
            ),
            new_code_cell(
                'if fail == "raise":\n'
                '    raise ZeroDivisionError("injected failure")\n'
                'elif fail == "kill":\n'
                "    import os\n"
                "    import signal\n\n"
                "    os.kill(os.getpid(), signal.SIGKILL)\n"
                'elif fail == "sleep":\n'
                "    import time\n\n"
                "    time.sleep(120)"
            ),
            new_code_cell('results.record(run_dir, "02_plot", "slope", base)\nprint(f"slope {base:.6f}")'),
        ],
        depends_on=["01"],
    ),
    "03_other": notebook(
        "Fixture step 3: independent",
        'scale: float = 2.0  # multiplier applied to the draws\n',
        [
            new_code_cell(
                "import numpy as np\n"
                "import pandas as pd\n\n"
                "from cxlab import results\n\n"
                "rng = np.random.default_rng(seed + 1)\n"
                'frame = pd.DataFrame({"k": list("abc"), "v": rng.normal(size=3) * scale}).round(6)\n'
                'results.record(run_dir, "03_other", "table", frame)\n'
                "frame"
            ),
        ],
    ),
    "04_brief": notebook(
        "Fixture step 4: brief",
        "",
        [
            new_code_cell(
                "from cxlab import results\n\n"
                "found = results.load(run_dir)\n"
                'summary = {"steps": sorted(found), "slope": found["02_plot"]["slope"]}\n'
                'results.record(run_dir, "04_brief", "summary", summary)\n'
                "print(summary)"
            ),
        ],
        depends_on="*",
    ),
}

if __name__ == "__main__":
    for stem, nb in NOTEBOOKS.items():
        nbformat.validate(nb)
        nbformat.write(nb, HERE / f"{stem}.ipynb")
        print("wrote", HERE / f"{stem}.ipynb")
