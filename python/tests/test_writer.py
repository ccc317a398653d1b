"""Tests of the case writer (rnnconf_capture.write_case): numpy and h5py only, no framework.

Run by `bash scripts/test` (python -m unittest discover -s python/tests). A missing numpy or
h5py is an import error here, so the run fails: it never skips.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
import unittest

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from rnnconf_capture import CapturedCase, write_case  # noqa: E402


def sample(**over):
    kw = dict(
        name="pytorch/sample", framework="pytorch", library="torch", library_version="2.15.0", cell="gru",
        dtype="float32", description="a sample", config={"module": "GRU", "kwargs": {"input_size": 2, "hidden_size": 1}},
        weights=[("weight_ih_l0", np.arange(6, dtype=np.float32).reshape(3, 2)),
                 ("rnn/gru_cell/gates/kernel", np.ones((2, 2), dtype=np.float32))],
        inputs=[("input", np.full((4, 1, 2), 0.5, dtype=np.float32)), ("lengths", np.array([4], dtype=np.int64))],
        outputs=[("output", np.array([[[0.25]]], dtype=np.float32)), ("h_n", np.array([[[-1.5]]], dtype=np.float32))],
    )
    kw.update(over)
    return kw


class WriterTests(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)

    def path(self, name="case.h5"):
        return os.path.join(self.tmp.name, "sub", name)

    def test_root_attributes_follow_schema_1(self):
        p = self.path()
        write_case(p, **sample(references="https://example.org/issue/1"))
        with h5py.File(p) as f:
            a = f.attrs
            self.assertEqual(a["rnnconf_case_schema"], 1)
            self.assertEqual(a["rnnconf_case_schema"].dtype, np.int64)
            for key, value in [("name", "pytorch/sample"), ("framework", "pytorch"), ("library", "torch"),
                               ("library_version", "2.15.0"), ("cell", "gru"), ("dtype", "float32"),
                               ("description", "a sample"), ("references", "https://example.org/issue/1")]:
                self.assertEqual(a[key], value, key)
            self.assertEqual(json.loads(a["config"]), {"module": "GRU", "kwargs": {"input_size": 2, "hidden_size": 1}})
            self.assertEqual(a["config"], '{"kwargs": {"hidden_size": 1, "input_size": 2}, "module": "GRU"}')
            self.assertEqual((a["atol"], a["rtol"]), (1e-5, 1e-5))
            self.assertEqual(a["atol"].dtype, np.float64)
            self.assertEqual(a["nan_equal"], 0)
            self.assertNotIn("tolerance_reason", a)
            self.assertNotIn("artifact_names", a)

    def test_float64_default_tolerance(self):
        p = self.path()
        kw = sample(dtype="float64")
        kw["inputs"] = [("input", np.zeros((1, 1, 2)))]
        write_case(p, **kw)
        with h5py.File(p) as f:
            self.assertEqual((f.attrs["atol"], f.attrs["rtol"]), (1e-10, 1e-10))

    def test_tensors_in_native_order_dtype_and_nesting(self):
        p = self.path()
        write_case(p, **sample())
        with h5py.File(p) as f:
            self.assertEqual(f.attrs["weight_names"].dtype.kind, "S")  # fixed-length byte strings
            self.assertEqual([n.decode() for n in f.attrs["weight_names"]], ["weight_ih_l0", "rnn/gru_cell/gates/kernel"])
            self.assertEqual([n.decode() for n in f.attrs["input_names"]], ["input", "lengths"])
            self.assertEqual([n.decode() for n in f.attrs["output_names"]], ["output", "h_n"])
            self.assertIsInstance(f["weights/rnn"], h5py.Group)  # a name with `/` nests
            self.assertEqual(f["weights/rnn/gru_cell/gates/kernel"].shape, (2, 2))
            np.testing.assert_array_equal(f["weights/weight_ih_l0"][()], [[0, 1], [2, 3], [4, 5]])
            self.assertEqual(f["inputs/lengths"].dtype, np.int64)
            self.assertEqual(f["outputs/h_n"][()].item(), -1.5)
            # creation order is kept (h5dump and `rnnconf inspect` list objects as the framework did)
            self.assertEqual(list(f["outputs"].keys()), ["output", "h_n"])

    def test_float16_is_widened_to_float32(self):
        p = self.path()
        write_case(p, **sample(outputs=[("output", np.array([0.5], dtype=np.float16))]))
        with h5py.File(p) as f:
            self.assertEqual(f["outputs/output"].dtype, np.float32)
            self.assertEqual(f["outputs/output"][0], 0.5)

    def test_artifacts_are_uint8_and_listed(self):
        p = self.path()
        write_case(p, **sample(artifacts={"model.json": b'{"a": 1}', "model.h5": b"\x89HDF"}))
        with h5py.File(p) as f:
            self.assertEqual([n.decode() for n in f.attrs["artifact_names"]], ["model.json", "model.h5"])
            self.assertEqual(f["artifacts/model.json"].dtype, np.uint8)
            self.assertEqual(f["artifacts/model.json"][()].tobytes(), b'{"a": 1}')

    def test_same_case_same_bytes(self):
        a, b = self.path("a.h5"), self.path("b.h5")
        write_case(a, **sample())
        write_case(b, **sample())
        with open(a, "rb") as fa, open(b, "rb") as fb:
            self.assertEqual(fa.read(), fb.read())

    def test_looser_tolerance_needs_a_reason(self):
        with self.assertRaisesRegex(ValueError, "tolerance_reason"):
            write_case(self.path(), **sample(atol=1e-4))
        p = self.path()
        write_case(p, **sample(atol=1e-4, tolerance_reason="float32 accumulation over 300 steps"))
        with h5py.File(p) as f:
            self.assertEqual(f.attrs["atol"], 1e-4)
            self.assertEqual(f.attrs["rtol"], 1e-5)
            self.assertEqual(f.attrs["tolerance_reason"], "float32 accumulation over 300 steps")
        write_case(self.path("tighter.h5"), **sample(atol=1e-7))  # tighter needs none

    def test_refusals_name_the_problem(self):
        for over, words in [({"framework": "jax"}, "framework"), ({"cell": "transformer"}, "cell"),
                            ({"dtype": "float16"}, "dtype"), ({"name": " "}, "name"),
                            ({"inputs": [("x", np.zeros(1, np.float32)), ("x", np.zeros(1, np.float32))]}, "duplicate")]:
            with self.subTest(over=list(over)):
                with self.assertRaisesRegex(ValueError, words):
                    write_case(self.path(), **sample(**over))

    def test_captured_case_writes_what_it_holds(self):
        kw = sample()
        case = CapturedCase(**kw)
        self.assertEqual(case.output("h_n").item(), -1.5)
        with self.assertRaisesRegex(KeyError, "c_n"):
            case.output("c_n")
        a, b = self.path("a.h5"), self.path("b.h5")
        self.assertEqual(case.write(a), a)
        write_case(b, **kw)
        with open(a, "rb") as fa, open(b, "rb") as fb:
            self.assertEqual(fa.read(), fb.read())


class FrameworkFreeImport(unittest.TestCase):
    def test_package_imports_no_framework(self):
        import rnnconf_capture  # noqa: F401
        for mod in ("torch", "tensorflow", "keras", "tf_keras", "onnx", "onnxruntime"):
            self.assertNotIn(mod, sys.modules, f"importing rnnconf_capture imported {mod}")


if __name__ == "__main__":
    unittest.main()
