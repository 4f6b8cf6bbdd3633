"""Reading the fixture files: numbers, tolerances, the digest of the files a run used."""

import hashlib
import json
import math
import os

NONFINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def num(v):
    """A fixture number: a JSON number or one of "NaN", "Infinity", "-Infinity"."""
    if isinstance(v, str):
        return NONFINITE[v]
    return float(v)


def nums(vs):
    return [num(v) for v in vs]


def fixture_files(fixture_dir):
    """The fixture files of a folder, sorted by name (schemas live in a subfolder and are not included)."""
    return sorted(
        f for f in os.listdir(fixture_dir) if f.endswith("_test.json") and os.path.isfile(os.path.join(fixture_dir, f))
    )


def digest(fixture_dir):
    """SHA-256 over the fixture files: for each file in name order, its name, a NUL byte, its bytes, a NUL byte.

    tests/conformance_report.rs recomputes the same digest from the committed files."""
    h = hashlib.sha256()
    for name in fixture_files(fixture_dir):
        h.update(name.encode())
        h.update(b"\0")
        with open(os.path.join(fixture_dir, name), "rb") as f:
            h.update(f.read())
        h.update(b"\0")
    return h.hexdigest()


def load(fixture_dir, name):
    with open(os.path.join(fixture_dir, name)) as f:
        return json.load(f)


def accepts(tol, actual, expected):
    """The fixture format's comparison: |a - e| <= atol + rtol |e|; NaN matches NaN, an infinity itself."""
    if math.isnan(expected) or math.isnan(actual):
        return math.isnan(expected) and math.isnan(actual)
    if math.isinf(expected) or math.isinf(actual):
        return expected == actual
    return abs(actual - expected) <= tol["atol"] + tol["rtol"] * abs(expected)


def excess(tol, actual, expected):
    """How far outside the tolerance a value lies, in units of the allowed error (<= 1 passes)."""
    if accepts(tol, actual, expected):
        return 0.0
    if not (math.isfinite(actual) and math.isfinite(expected)):
        return math.inf
    return abs(actual - expected) / (tol["atol"] + tol["rtol"] * abs(expected))
