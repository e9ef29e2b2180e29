"""Compare generated files strictly, except for the last digits of computed floats.

Floats that come out of floating-point math (predictions, metrics, data profiles)
change in their last digits with the BLAS kernels a CPU picks (try
`OPENBLAS_CORETYPE=Prescott`). Everything else must match exactly: a JSON file
must have the same keys, types, strings and integers, a text file the same
characters around its float literals, and the manifest's file hashes must be the
hashes of the files beside it.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from pathlib import Path
from typing import Any

RTOL = 1e-9
ATOL = 1e-12
FLOAT32_RTOL = 1e-3
"""For a model trained in float32 (PyTorch): the CPU's vector width and the thread count
change the 6th digit of what it predicts (measured: 7e-6 between AVX-512 and AVX2 kernels
on the digits CNN), not only the last ones."""

# A float literal: digits with a point or an exponent, not part of a word, a
# version (`3.12.1`) or a hex digest (`3e06c1...`). Integers stay text.
FLOAT = re.compile(
    r"(?<![\w.])([-+]?(?:\d+\.\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|\d+[eE][-+]?\d+))(?![\w.])"
)


def close(a: float, b: float, rtol: float = RTOL) -> bool:
    """Equal up to the last digits: both NaN, equal infinities, or within rtol/ATOL."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return math.isclose(a, b, rel_tol=rtol, abs_tol=ATOL)


def json_difference(a: Any, b: Any, where: str = "$", rtol: float = RTOL) -> str | None:
    """Where two parsed JSON values differ (beyond float round-off), or None."""
    if type(a) is not type(b):
        return f"{where}: {a!r} != {b!r}"
    if isinstance(a, float):
        return None if close(a, b, rtol) else f"{where}: {a!r} != {b!r}"
    if isinstance(a, dict):
        if list(a) != list(b):
            return f"{where}: keys {list(a)} != {list(b)}"
        for key in a:
            found = json_difference(a[key], b[key], f"{where}.{key}", rtol)
            if found:
                return found
        return None
    if isinstance(a, list):
        if len(a) != len(b):
            return f"{where}: {len(a)} items != {len(b)} items"
        for index, (x, y) in enumerate(zip(a, b, strict=True)):
            found = json_difference(x, y, f"{where}[{index}]", rtol)
            if found:
                return found
        return None
    return None if a == b else f"{where}: {a!r} != {b!r}"


def text_difference(a: str, b: str, rtol: float = RTOL) -> str | None:
    """Where two texts differ: the text between float literals exactly, floats within rtol."""
    parts_a, parts_b = FLOAT.split(a), FLOAT.split(b)
    if len(parts_a) != len(parts_b):
        return _first_changed_line(a, b)
    for index, (x, y) in enumerate(zip(parts_a, parts_b, strict=True)):
        if index % 2 == 0 and x != y:
            return _first_changed_line(a, b)
        if index % 2 == 1 and not close(float(x), float(y), rtol):
            return f"{x} != {y}"
    return None


def _first_changed_line(a: str, b: str) -> str:
    for number, (x, y) in enumerate(zip(a.splitlines(), b.splitlines(), strict=False), start=1):
        if x != y:
            return f"line {number}: {x!r} != {y!r}"
    return f"{len(a.splitlines())} lines != {len(b.splitlines())} lines"


def has_floats(data: bytes) -> bool:
    try:
        return FLOAT.search(data.decode()) is not None
    except UnicodeDecodeError:
        return False


def normalise_manifest(root: Path, text: str, also: frozenset[str] = frozenset()) -> str:
    """The manifest with hashes of float-bearing files (and `also`) replaced, once checked.

    Such a file is compared on its own with `text_difference`, so its hash only has to be
    the hash of the file beside the manifest; any other hash stays as it is.
    """
    manifest = json.loads(text)
    for relative, digest in manifest.get("files", {}).items():
        path = root / relative
        if not path.is_file():
            continue
        data = path.read_bytes()
        if relative in also or has_floats(data):
            actual = hashlib.sha256(data).hexdigest()
            manifest["files"][relative] = (
                "<sha256 of the file>" if actual == digest else f"<{digest} is not its sha256>"
            )
    return json.dumps(manifest, indent=2)


def file_difference(relative: str, generated: str, expected: str, rtol: float = RTOL) -> str | None:
    """Where one generated file differs from its expected copy, or None."""
    if relative.endswith((".json", ".ipynb")):
        try:
            a, b = json.loads(generated), json.loads(expected)
        except ValueError:
            return text_difference(generated, expected, rtol)
        return json_difference(a, b, rtol=rtol) or text_difference(generated, expected, rtol)
    return text_difference(generated, expected, rtol)


def within(got: Any, want: Any, rtol: float, atol: float) -> bool:
    """`got` is `want` (parsed JSON: dicts, lists, values), each float within
    atol + rtol * |want|: how a served answer meets what training checked its runtime to."""
    if isinstance(want, dict):
        return (
            isinstance(got, dict)
            and got.keys() == want.keys()
            and all(within(got[k], want[k], rtol, atol) for k in want)
        )
    if isinstance(want, list):
        return (
            isinstance(got, list)
            and len(got) == len(want)
            and all(within(g, w, rtol, atol) for g, w in zip(got, want, strict=True))
        )
    if isinstance(want, float) and isinstance(got, (int, float)):
        return abs(got - want) <= atol + rtol * abs(want)
    return bool(got == want)
