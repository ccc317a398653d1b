"""rnnconf_capture: capture a recurrent layer as an rnnconf conformance case file.

    from rnnconf_capture import capture_torch
    capture_torch(torch.nn.GRU(3, 4).eval(), torch.randn(5, 2, 3), "my_gru.h5", name="pytorch/my_gru")
    # then: rnnconf run my_gru.h5

`write_case` writes a case from explicit parts (the schema is fixtures/README.md of the
rnnconf repository). `capture_torch`, `capture_keras`, `capture_tf1` and `capture_onnx`
infer the native config, weights and outputs from a live framework object, run it on the
inputs you give, and return a `CapturedCase` (written to `path` when one is given).
Only numpy and h5py are needed to import this package; each helper imports its framework
when called.
"""
from __future__ import annotations

from .case import CapturedCase
from .writer import CELLS, DEFAULT_TOLERANCE, FRAMEWORKS, SCHEMA_VERSION, write_case

__version__ = "1.0.0"

__all__ = [
    "CELLS", "DEFAULT_TOLERANCE", "FRAMEWORKS", "SCHEMA_VERSION", "CapturedCase", "write_case",
    "capture_torch", "capture_keras", "capture_tf1", "capture_onnx", "capture_keras_reference",
]


def capture_keras_reference(*args, **kwargs) -> str:
    """A whole Keras model's outputs and every layer's, as the REF.h5 `rnnconf compare` reads
    (`python -m rnnconf_capture.reference MODEL X.npy REF.h5` from a shell)."""
    from .reference import capture_keras_reference as f
    return f(*args, **kwargs)


def capture_torch(*args, **kwargs) -> CapturedCase:
    from .torch_capture import capture_torch as f
    return f(*args, **kwargs)


def capture_keras(*args, **kwargs) -> CapturedCase:
    from .keras_capture import capture_keras as f
    return f(*args, **kwargs)


def capture_tf1(*args, **kwargs) -> CapturedCase:
    from .tf1_capture import capture_tf1 as f
    return f(*args, **kwargs)


def capture_onnx(*args, **kwargs) -> CapturedCase:
    from .onnx_capture import capture_onnx as f
    return f(*args, **kwargs)


for _f, _m in ((capture_torch, "torch_capture"), (capture_keras, "keras_capture"),
               (capture_tf1, "tf1_capture"), (capture_onnx, "onnx_capture")):
    _f.__doc__ = f"See rnnconf_capture.{_m}.{_f.__name__} (imports its framework when called)."
