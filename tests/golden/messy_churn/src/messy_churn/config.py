"""Training parameters, from the notebook's `parameters` cell.

Defaults are the notebook's values. Every parameter is also a command-line
flag of `messy-churn-train` (e.g. `--test-size 0.3`).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict, dataclass, fields, replace
from typing import Any


@dataclass(frozen=True)
class Config:
    """Parameters of one training run."""

    test_size: float = 0.3
    """fraction of the rows held out for evaluation"""

    C: float = 0.5
    """inverse regularisation strength of the logistic regression"""

    max_iter: int = 500
    """maximum solver iterations"""

    random_state: int = 0
    """seed for the train/test split"""

    def to_dict(self) -> dict[str, Any]:
        """The parameters as plain data, for metadata and logs."""
        return asdict(self)


QUICK_OVERRIDES: dict[str, Any] = {"max_iter": 200, "C": 1.0}
"""A faster run from the notebook's `# nb2prod: quick` line, for smoke tests and CI."""


def quick_config() -> Config:
    """The notebook's defaults with the quick overrides: the same code on less work."""
    return replace(Config(), **QUICK_OVERRIDES)


def int_or_float(name: str) -> Any:
    """A flag for an int parameter that takes a float too, as papermill injects `C = 0.5`."""

    def parse(text: str) -> int | float:
        try:
            return int(text)
        except ValueError:
            value = float(text)
        print(
            f"note: --{name.replace('_', '-')} defaults to an int; given the float {value}",
            file=sys.stderr,
        )
        return value

    parse.__name__ = "int"  # argparse's "invalid int value: 'x'" for neither
    return parse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add one flag per parameter to `parser`, defaulting to the notebook's value."""
    defaults = Config()
    group = parser.add_argument_group("parameters (defaults from the notebook)")
    group.add_argument(
        "--test-size",
        dest="test_size",
        type=float,
        default=defaults.test_size,
        help="fraction of the rows held out for evaluation (default: %(default)s)",
    )
    group.add_argument(
        "--C",
        dest="C",
        type=float,
        default=defaults.C,
        help="inverse regularisation strength of the logistic regression (default: %(default)s)",
    )
    group.add_argument(
        "--max-iter",
        dest="max_iter",
        type=int_or_float("max_iter"),
        default=defaults.max_iter,
        help="maximum solver iterations (default: %(default)s)",
    )
    group.add_argument(
        "--random-state",
        dest="random_state",
        type=int_or_float("random_state"),
        default=defaults.random_state,
        help="seed for the train/test split (default: %(default)s)",
    )


def from_namespace(namespace: argparse.Namespace, base: Config | None = None) -> Config:
    """The `Config` that parsed flags describe; flags left at their default keep `base`."""
    defaults, base = Config(), base or Config()
    given = {
        f.name: getattr(namespace, f.name)
        for f in fields(Config)
        if getattr(namespace, f.name) != getattr(defaults, f.name)
    }
    return replace(base, **given)
