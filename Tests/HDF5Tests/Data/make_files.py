"""Writes the small HDF5 files the HDF5Tests read, with h5py (pinned: h5py==3.14.0,
numpy==2.4.6). Run from anywhere:

    "${RNNCONF_VENV:-$HOME/.cache/rnnconf/venv}"/bin/python Tests/HDF5Tests/Data/make_files.py

Every expected value the tests check is stated here (the tests compare against
these literal values, which h5py wrote; nothing comes from the Swift code).
The case file `case_sample.h5` is written by rnnconf_capture.write_case (python/).
"""
import os
import sys

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
assert h5py.__version__ == "3.14.0", f"pinned h5py==3.14.0, found {h5py.__version__}"

# The values every numeric dataset holds (before conversion to its dtype).
VALUES = np.array([[0, 1, 2], [3, 4, 5]])
FLOATS = np.array([[0.5, -1.25, 3.0], [1e-3, 65504.0, -2.0]])


def p(name):
    return os.path.join(HERE, name)


def dtypes():
    # Every numeric dtype, name order (no track_order): datasets are listed alphabetically.
    with h5py.File(p("dtypes.h5"), "w") as f:
        for dt in ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"]:
            f.create_dataset(dt, data=VALUES.astype(dt))
        for dt in ["float16", "float32", "float64"]:
            f.create_dataset(dt, data=FLOATS.astype(dt))
        f.create_dataset("float32_be", data=FLOATS.astype(">f4"))
        f.create_dataset("scalar_f64", data=np.float64(2.5))
        f.create_dataset("empty_f32", data=np.zeros((0, 3), dtype=np.float32))
        f.create_dataset("int64_big", data=np.array([2**53, -(2**62)], dtype=np.int64))
        f.create_dataset("strings_fixed", data=np.array([b"alpha", b"be"], dtype="S5"))
        f.create_dataset("strings_vlen", data=["x", "\u00e9t\u00e9"], dtype=h5py.string_dtype())
        f.create_dataset("bools", data=np.array([True, False, True]))
        # 3-D for hyperslabs: value = 100*i + 10*j + k.
        cube = np.array([[[100 * i + 10 * j + k for k in range(5)] for j in range(4)] for i in range(3)],
                        dtype=np.float32)
        f.create_dataset("cube", data=cube, chunks=(1, 2, 5))


def attrs():
    with h5py.File(p("attrs.h5"), "w", track_order=True) as f:
        a = f.attrs
        a["int_scalar"] = np.int64(-7)
        a["float_scalar"] = np.float64(1e-5)
        a["float32_array"] = np.array([1.5, 2.5, -3.0], dtype=np.float32)
        a["int_matrix"] = np.array([[1, 2], [3, 4]], dtype=np.int32)
        a["str_ascii"] = "hello"                     # vlen str, utf-8 cset (h5py default)
        a["str_utf8"] = "na\u00efve \u2713"          # vlen str with non-ASCII
        a["bytes_scalar"] = np.bytes_(b"tensorflow")  # fixed-length scalar, ASCII
        # Keras-style: fixed-length NUL-padded byte strings.
        a["layer_names"] = np.array([b"lstm", b"dense_1", b"x"], dtype="S7")
        a["vlen_list"] = np.array(["a", "bc"], dtype=h5py.string_dtype())
        a["flag"] = np.bool_(True)
        a["empty"] = h5py.Empty("f8")
        # Keras splits big name lists into name0, name1, ...
        a["weight_names0"] = np.array([b"w0", b"w1"], dtype="S2")
        a["weight_names1"] = np.array([b"w2"], dtype="S2")
        # Not UTF-8: the reader must refuse, naming the attribute.
        a["bad_bytes"] = np.bytes_(b"ok\xff\xfe")
        a["bad_vlen"] = np.array([b"\xc3\x28"], dtype=h5py.string_dtype(encoding="ascii"))[0]


def order():
    # Creation order tracked at the root: zeta, alpha, mid (not alphabetical).
    with h5py.File(p("order.h5"), "w", track_order=True) as f:
        f.create_group("zeta")
        f.create_dataset("alpha", data=np.arange(3, dtype=np.float64))
        g = f.create_group("mid")
        g.create_dataset("b/c/deep", data=np.array([[1.0, 2.0]], dtype=np.float32))
        f.attrs["z_attr"] = 1
        f.attrs["a_attr"] = 2
        # A group created without track_order: its children are listed by name.
        u = f.create_group("untracked", track_order=False)
        for n in ["c", "a", "b"]:
            u.create_dataset(n, data=np.int32(len(n)))
        f["link_to_alpha"] = h5py.SoftLink("/alpha")


def keras_style():
    # The shape of a Keras 2 legacy .h5 (written here by hand with h5py, not by Keras).
    with h5py.File(p("keras_style.h5"), "w") as f:
        f.attrs["keras_version"] = b"2.2.4"
        f.attrs["backend"] = b"tensorflow"
        f.attrs["model_config"] = '{"class_name": "Sequential", "config": {"layers": [' + ", ".join(
            '{"class_name": "Dense", "config": {"name": "d%d", "units": 4}}' % i for i in range(40)) + "]}}"
        mw = f.create_group("model_weights")
        mw.attrs["layer_names"] = np.array([b"lstm", b"dense"], dtype="S5")
        l = mw.create_group("lstm")
        l.attrs["weight_names"] = np.array([b"lstm/kernel:0", b"lstm/recurrent_kernel:0", b"lstm/bias:0"])
        l.create_dataset("lstm/kernel:0", data=np.ones((3, 8), dtype=np.float32))
        l.create_dataset("lstm/recurrent_kernel:0", data=np.ones((2, 8), dtype=np.float32))
        l.create_dataset("lstm/bias:0", data=np.zeros((8,), dtype=np.float32))
        d = mw.create_group("dense")
        d.attrs["weight_names"] = np.array([], dtype="S1")
        # Keras 1 writes an empty name list as an empty float64 array.
        a = mw.create_group("activation")
        a.attrs["weight_names"] = np.array([])


def huge():
    # Declares 2^20 x 2^20 float64 = 8 TiB, chunked and never written: the file stays tiny.
    with h5py.File(p("huge.h5"), "w") as f:
        f.create_dataset("huge", shape=(2**20, 2**20), dtype="f8", chunks=(16, 16), fillvalue=0.0)
        f.attrs["note"] = "declared 8 TiB, nothing allocated"


def case_sample():
    sys.path.insert(0, os.path.join(REPO, "python"))
    from rnnconf_capture import write_case
    rng = np.random.default_rng(0)
    w = [("rnn/lstm_cell/kernel", rng.standard_normal((5, 8)).astype(np.float32)),
         ("rnn/lstm_cell/bias", rng.standard_normal((8,)).astype(np.float32))]
    x = [("input", rng.standard_normal((2, 3, 3)).astype(np.float32)),
         ("sequence_length", np.array([3, 2], dtype=np.int64))]
    y = [("output", rng.standard_normal((2, 3, 2)).astype(np.float32)),
         ("h", rng.standard_normal((2, 2)).astype(np.float64))]
    write_case(p("case_sample.h5"), name="tf1/sample", framework="tf1", library="tensorflow",
               library_version="2.21.0", cell="lstm", dtype="float32",
               description="A sample written by casefile.write_case for the loader tests (values are random, not a run).",
               config={"cell": "BasicLSTMCell", "num_units": 2, "forget_bias": 1.0},
               weights=w, inputs=x, outputs=y, atol=1e-4, tolerance_reason="sample: looser on purpose",
               artifacts={"note.txt": b"hello"})


def links_old_style():
    # Old-style groups (h5py's default) holding soft, dangling and external links: a soft link's
    # symbol-table entry has no object header (the undefined address), its value in the heap.
    with h5py.File(p("links_old_style.h5"), "w") as f:
        g = f.create_group("g")
        g.create_dataset("x", data=np.arange(3.0))
        g["soft"] = h5py.SoftLink("/g/x")
        f["dangling"] = h5py.SoftLink("/nowhere")
        f["ext"] = h5py.ExternalLink("other.h5", "/y")


if __name__ == "__main__":
    dtypes()
    attrs()
    order()
    keras_style()
    huge()
    case_sample()
    links_old_style()
    for n in sorted(os.listdir(HERE)):
        if n.endswith(".h5"):
            print(f"{n}: {os.path.getsize(p(n))} bytes")
