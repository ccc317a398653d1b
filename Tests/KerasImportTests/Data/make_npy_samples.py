"""Small .npy files written by NumPy itself, for the Swift .npy reader's tests.

    "${RNNCONF_VENV:-$HOME/.cache/rnnconf/venv}"/bin/python Tests/KerasImportTests/Data/make_npy_samples.py
"""
import os

import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "npy")
os.makedirs(OUT, exist_ok=True)
base = np.arange(24, dtype=np.float64).reshape(2, 3, 4) / 8 - 1
np.save(os.path.join(OUT, "f32.npy"), base.astype("<f4"))
np.save(os.path.join(OUT, "f64_big_endian.npy"), base.astype(">f8"))
np.save(os.path.join(OUT, "f16.npy"), base.astype("<f2"))
np.save(os.path.join(OUT, "i64.npy"), (base * 8).astype("<i8"))
np.save(os.path.join(OUT, "i8.npy"), (base * 8).astype("i1"))
np.save(os.path.join(OUT, "u16.npy"), (base * 8 + 8).astype("<u2"))
np.save(os.path.join(OUT, "bool.npy"), base > 0)
np.save(os.path.join(OUT, "f32_fortran.npy"), np.asfortranarray(base.astype("<f4")))
np.save(os.path.join(OUT, "scalar.npy"), np.float32(2.5))
# The expected values in C order, as text, for the test to compare against.
np.savetxt(os.path.join(OUT, "base.txt"), base.reshape(-1))
