"""Finding the step notebooks ``notebooks/NN_<name>.ipynb``, their parameters and dependencies.

A notebook declares what it needs in its metadata,
``{"cxlab": {"depends_on": ["05"]}}`` (numbers or stems; ``"*"`` means
every lower-numbered step); the default is no dependency.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from ..config import REPO_ROOT
from ..errors import DependencyError, ParameterError, suggest

__all__ = ["discover", "Step", "DependencyError"]


@dataclasses.dataclass(frozen=True)
class Step:
    """One step notebook.

    Attributes
    ----------
    number : str
        The two-digit prefix, ``"05"``.
    stem : str
        The file name without suffix, ``"05_focus"``.
    path : pathlib.Path
        The notebook file.
    depends_on : tuple of str
        Stems of the steps that must succeed before this one runs.
    parameters : dict
        Declared parameters, name -> ``{"default", "help", "inferred_type_name"}``
        (from ``papermill.inspect_notebook``).
    """

    number: str
    stem: str
    path: Path
    depends_on: tuple[str, ...] = ()
    parameters: dict = dataclasses.field(default_factory=dict, compare=False, repr=False)


def default_notebooks_dir() -> Path:
    return REPO_ROOT / "notebooks"


def default_reports_dir() -> Path:
    """``./reports`` of the working directory (as ``--help`` says), in an editable install too."""
    return Path.cwd() / "reports"


def discover(notebooks_dir=None) -> list[Step]:
    """Find the step notebooks ``NN_*.ipynb`` and their dependencies.

    Parameters
    ----------
    notebooks_dir : path-like, optional
        Default: ``notebooks/`` at the repository root.

    Returns
    -------
    list of Step
        In a dependency-respecting order (by number where free to choose).

    Raises
    ------
    DependencyError
        Two notebooks share a number, ``depends_on`` names an unknown step,
        or the dependencies form a cycle.
    """
    import nbformat
    import papermill

    folder = Path(notebooks_dir) if notebooks_dir is not None else default_notebooks_dir()
    if not folder.is_dir():
        raise FileNotFoundError(f"notebooks folder not found: {folder}")
    paths = sorted(folder.glob("[0-9][0-9]_*.ipynb"))
    numbers: dict[str, Path] = {}
    for p in paths:
        n = p.name[:2]
        if n in numbers:
            raise DependencyError(f"two notebooks share the step number {n}: {numbers[n].name} and {p.name}")
        numbers[n] = p
    stems = {p.stem: p.name[:2] for p in paths}
    by_number = {n: p.stem for n, p in numbers.items()}

    steps = []
    for p in paths:
        nb = nbformat.read(p, as_version=4)
        raw = nb.metadata.get("cxlab", {}).get("depends_on", [])
        if isinstance(raw, str):
            raw = [raw]
        deps: list[str] = []
        for token in raw:
            token = str(token)
            if token in ("*", "all"):
                deps.extend(s for s, n in stems.items() if n < p.name[:2])
            elif token in stems:
                deps.append(token)
            elif token in by_number:
                deps.append(by_number[token])
            else:
                raise DependencyError(
                    f"{p.name}: depends_on names unknown step {token!r}"
                    f"{suggest(token, list(stems) + list(by_number))}; steps: {sorted(stems)}"
                )
        deps = sorted(set(deps) - {p.stem})
        params = dict(papermill.inspect_notebook(str(p)))
        for name in _assigned_names(nb):  # lines papermill could not parse are still parameters
            params.setdefault(name, {"name": name, "inferred_type_name": "None", "default": "", "help": ""})
        steps.append(Step(p.name[:2], p.stem, p, tuple(deps), params))
    return _toposort(steps)


def _assigned_names(nb) -> list[str]:
    """Names assigned at top level in the notebook's ``parameters`` cell (via ``ast``)."""
    import ast

    for cell in nb.cells:
        if cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", []):
            try:
                tree = ast.parse(cell.source)
            except SyntaxError:
                return []
            names = []
            for node in tree.body:
                targets = node.targets if isinstance(node, ast.Assign) else (
                    [node.target] if isinstance(node, ast.AnnAssign) else [])
                names += [t.id for t in targets if isinstance(t, ast.Name)]
            return names
    return []


def _toposort(steps: list[Step]) -> list[Step]:
    done: list[Step] = []
    names: set[str] = set()
    pending = list(steps)
    while pending:
        ready = [s for s in pending if set(s.depends_on) <= names]
        if not ready:
            cycle = ", ".join(f"{s.stem} -> {list(s.depends_on)}" for s in pending)
            raise DependencyError(f"the notebooks' depends_on form a cycle: {cycle}")
        s = ready[0]
        done.append(s)
        names.add(s.stem)
        pending.remove(s)
    return done


def select_steps(steps: list[Step], only) -> list[Step]:
    if only is None:
        return steps
    tokens = [t.strip() for t in only.split(",")] if isinstance(only, str) else [str(t) for t in only]
    chosen = []
    for t in tokens:
        match = [s for s in steps if t in (s.stem, s.number)]
        if not match:
            names = [s.stem for s in steps] + [s.number for s in steps]
            raise ParameterError(f"only: unknown step {t!r}{suggest(t, names)}; steps: {[s.stem for s in steps]}")
        chosen.append(match[0].stem)
    return [s for s in steps if s.stem in chosen]


def depends_transitively(step: Step, names: set[str], all_steps: list[Step]) -> bool:
    by_stem = {s.stem: s for s in all_steps}
    seen: set[str] = set()
    stack = list(step.depends_on)
    while stack:
        d = stack.pop()
        if d in names:
            return True
        if d in seen or d not in by_stem:
            continue
        seen.add(d)
        stack.extend(by_stem[d].depends_on)
    return False

