"""Private toolbox shared by every cxlab package (one copy of each helper).

Nothing here is public API; packages import these names, notebooks do not.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def isin(values: pd.Series, pool) -> np.ndarray:
    """``values.isin(pool)`` as a bool array; hashes through pyarrow (pandas 3 string isin is slow)."""
    try:
        import pyarrow as pa
        import pyarrow.compute as pc

        arr = pa.array(values)
        ref = pa.array(pd.Series(pool).dropna()).unique()
        if arr.type != ref.type:
            ref = ref.cast(arr.type)
        return pc.is_in(arr, value_set=ref).fill_null(False).to_numpy(zero_copy_only=False).astype(bool)
    except Exception:  # mixed or exotic types: fall back to pandas
        return values.isin(pd.Series(pool).dropna()).to_numpy(bool)
