"""capture_torch: a torch.nn.RNN / LSTM / GRU or RNNCell / LSTMCell / GRUCell as a case.

The config follows fixtures/README.md, "### pytorch": `{"module", "kwargs", "call", "dtype",
"training": false}`; weights are the `state_dict()` in its order; inputs `input`, `h0`, `c0`,
`lengths` (cells: `input`, `hx`, `cx`); outputs `output`, `h_n`, `c_n` (cells: `h`, `c`).
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

from .case import CapturedCase, _finish

MODULES = ("RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell")
CELL_KIND = {"RNN": "rnn", "LSTM": "lstm", "GRU": "gru", "RNNCell": "rnn", "LSTMCell": "lstm", "GRUCell": "gru"}


def _module_class(module) -> str:
    from torch import nn
    for cls in MODULES:  # subclasses count as their torch base class
        if isinstance(module, getattr(nn, cls)):
            return cls
    raise TypeError(f"capture_torch takes torch.nn.{', '.join(MODULES)} (or a subclass), not {type(module).__name__}")


def infer_kwargs(module) -> dict:
    """The constructor kwargs that rebuild `module`: sizes always, the rest when not torch's default."""
    cls = _module_class(module)
    kw: dict[str, Any] = {"input_size": int(module.input_size), "hidden_size": int(module.hidden_size)}
    if not module.bias:
        kw["bias"] = False
    if cls in ("RNN", "RNNCell") and module.nonlinearity != "tanh":
        kw["nonlinearity"] = module.nonlinearity
    if not cls.endswith("Cell"):
        if module.num_layers != 1:
            kw["num_layers"] = int(module.num_layers)
        if module.batch_first:
            kw["batch_first"] = True
        if module.dropout:
            kw["dropout"] = float(module.dropout)
        if module.bidirectional:
            kw["bidirectional"] = True
        if cls == "LSTM" and getattr(module, "proj_size", 0):
            kw["proj_size"] = int(module.proj_size)
    return kw


def _np(t) -> np.ndarray:
    return t.detach().cpu().numpy() if hasattr(t, "detach") else np.asarray(t)


def capture_torch(module, inputs, path: Optional[str] = None, *, name: str, hx=None, lengths=None,
                  enforce_sorted: bool = True, total_length: Optional[int] = None, description: str = "",
                  kwargs: Optional[dict] = None, atol: Optional[float] = None, rtol: Optional[float] = None,
                  tolerance_reason: Optional[str] = None, references: Optional[str] = None) -> CapturedCase:
    """Runs `module` on `inputs` (a tensor or numpy array in the module's own layout) and captures it.

    hx: the initial state as the module takes it (`h0`, or `(h0, c0)` for LSTM; cells `hx` or
    `(hx, cx)`); None for zeros. lengths: per-sample lengths: the input then goes through
    `pack_padded_sequence(..., batch_first=<module's>, enforce_sorted=...)` and the output through
    `pad_packed_sequence(total_length=...)`. kwargs: the constructor kwargs to record (default:
    inferred from the module, see `infer_kwargs`). The module must be in eval mode unless its
    dropout is 0. Returns the `CapturedCase`; writes it to `path` when given.
    """
    import torch
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    cls = _module_class(module)
    if module.training and getattr(module, "dropout", 0):
        raise ValueError("the module is in training mode with dropout > 0: call module.eval() first "
                         "(a case records inference, `training` false)")
    params = list(module.parameters())
    pdtype = params[0].dtype if params else torch.float32
    if pdtype not in (torch.float32, torch.float64):
        raise ValueError(f"the module's parameters are {pdtype}; rnnconf cases are float32 or float64")
    dtype = "float64" if pdtype == torch.float64 else "float32"
    np_dtype = np.float64 if dtype == "float64" else np.float32
    x = torch.as_tensor(_np(inputs)).to(pdtype)
    kw = dict(kwargs) if kwargs is not None else infer_kwargs(module)

    weights = [(k, _np(v).copy()) for k, v in module.state_dict().items()]
    ins: list = [("input", _np(x))]
    outs: list = []
    states = [] if hx is None else ([hx] if torch.is_tensor(hx) or isinstance(hx, np.ndarray) else list(hx))
    states = [torch.as_tensor(_np(s)).to(pdtype) for s in states]
    is_lstm = cls in ("LSTM", "LSTMCell")
    if hx is not None and len(states) != (2 if is_lstm else 1):
        raise ValueError(f"hx for {cls} is {'(h, c)' if is_lstm else 'one tensor'}, got {len(states)} tensors")
    hx_arg = None if not states else (tuple(states) if is_lstm else states[0])

    with torch.no_grad():
        if cls.endswith("Cell"):
            if lengths is not None:
                raise ValueError("lengths apply to RNN/LSTM/GRU modules, not to cells")
            call = {"hx": hx is not None, "batched": x.dim() == 2}
            for n, s in zip(("hx", "cx"), states):
                ins.append((n, _np(s)))
            res = module(x, hx_arg)
            outs = [("h", _np(res[0])), ("c", _np(res[1]))] if is_lstm else [("h", _np(res))]
        else:
            batched = x.dim() == 3
            call = {"packed": lengths is not None, "initial_state": hx is not None, "batched": batched}
            for n, s in zip(("h0", "c0"), states):
                ins.append((n, _np(s)))
            if lengths is not None:
                if not batched:
                    raise ValueError("packed sequences need a batched input")
                call["enforce_sorted"] = bool(enforce_sorted)
                call["total_length"] = total_length
                lens = np.asarray(_np(lengths), dtype=np.int64)
                ins.append(("lengths", lens))
                seq = pack_padded_sequence(x, torch.from_numpy(lens), batch_first=module.batch_first,
                                           enforce_sorted=enforce_sorted)
                y_packed, state = module(seq, hx_arg)
                y, _ = pad_packed_sequence(y_packed, batch_first=module.batch_first, total_length=total_length)
            else:
                y, state = module(x, hx_arg)
            outs = [("output", _np(y))]
            outs += [("h_n", _np(state[0])), ("c_n", _np(state[1]))] if is_lstm else [("h_n", _np(state))]
    for n, o in outs:
        if o.dtype != np_dtype:
            raise ValueError(f"output {n} came back as {o.dtype}, expected {dtype}")
    config = {"module": cls, "kwargs": kw, "call": call, "dtype": dtype, "training": False}
    case = CapturedCase(
        name=name, framework="pytorch", library="torch", library_version=torch.__version__.split("+")[0],
        cell=CELL_KIND[cls], dtype=dtype, description=description or f"torch.nn.{cls} {kw}", config=config,
        weights=weights, inputs=ins, outputs=outs, atol=atol, rtol=rtol, tolerance_reason=tolerance_reason,
        references=references)
    return _finish(case, path)
