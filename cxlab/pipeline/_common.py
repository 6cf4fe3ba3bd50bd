"""Names the pipeline's submodules share: cell tags, the error anchor, the kernel, an error's location."""

from __future__ import annotations

KERNEL_NAME = "python3"
BANNER_TAG = "cxlab-error-banner"
PAPERMILL_ERROR_TAG = "papermill-error-cell-tag"
ERROR_ANCHOR = "papermill-error-cell"


def error_where(error: dict) -> str:
    """Where a step failed, in words: ``"cell 3"`` or ``"before any cell ran"``.

    Examples
    --------
    >>> error_where({"cell": 3})
    'cell 3'
    >>> error_where({"cell": None})
    'before any cell ran'
    """
    return f"cell {error['cell']}" if error.get("cell") else "before any cell ran"
