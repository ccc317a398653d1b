"""A captured case in memory: what `write_case` writes, before it is written."""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Mapping, Optional, Sequence

import numpy as np

from .writer import Named, write_case


@dataclass
class CapturedCase:
    """The arguments of `write_case`, as a `capture_*` helper inferred them from a live object.
    Inspect or adjust it (`outputs`, `atol`, `artifacts`, ...), then `write(path)`."""

    name: str
    framework: str
    library: str
    library_version: str
    cell: str
    dtype: str
    description: str
    config: Mapping
    weights: Named
    inputs: Named
    outputs: Named
    atol: Optional[float] = None
    rtol: Optional[float] = None
    tolerance_reason: Optional[str] = None
    nan_equal: bool = False
    artifacts: Optional[Mapping[str, bytes]] = None
    references: Optional[str] = None
    intermediates: Optional[Named] = None  # expected single-layer outputs, (layer name, array) in graph order
    compared_outputs: Optional[Sequence[str]] = None  # the outputs compared (None: all); the rest reported as not compared
    extra: dict = field(default_factory=dict, repr=False, compare=False)

    def output(self, name: str) -> np.ndarray:
        """The expected output `name` (KeyError naming the known ones when absent)."""
        for n, v in self.outputs:
            if n == name:
                return v
        raise KeyError(f"no output {name!r}; outputs: {[n for n, _ in self.outputs]}")

    def write(self, path: str) -> str:
        """Writes the case file (see `write_case`) and returns `path`."""
        kwargs = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        write_case(path, **kwargs)
        return path


def _finish(case: CapturedCase, path: Optional[str]) -> CapturedCase:
    if path is not None:
        case.write(path)
    return case
