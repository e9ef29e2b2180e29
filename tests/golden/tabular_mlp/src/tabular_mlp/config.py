"""Training parameters, from the notebook's `parameters` cell.

Defaults are the notebook's values. Every parameter is also a command-line
flag of `tabular-mlp-train` (e.g. `--hidden-units 32`).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict, dataclass, fields, replace
from typing import Any


@dataclass(frozen=True)
class Config:
    """Parameters of one training run."""

    hidden_units: int = 32

    epochs: int = 60

    learning_rate: float = 0.01

    weight_decay: float = 0.0001

    seed: int = 42

    test_size: float = 0.2

    def to_dict(self) -> dict[str, Any]:
        """The parameters as plain data, for metadata and logs."""
        return asdict(self)


QUICK_OVERRIDES: dict[str, Any] = {"epochs": 40}
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
        "--hidden-units",
        dest="hidden_units",
        type=int_or_float("hidden_units"),
        default=defaults.hidden_units,
        help="hidden_units (default: %(default)s)",
    )
    group.add_argument(
        "--epochs",
        dest="epochs",
        type=int_or_float("epochs"),
        default=defaults.epochs,
        help="epochs (default: %(default)s)",
    )
    group.add_argument(
        "--learning-rate",
        dest="learning_rate",
        type=float,
        default=defaults.learning_rate,
        help="learning_rate (default: %(default)s)",
    )
    group.add_argument(
        "--weight-decay",
        dest="weight_decay",
        type=float,
        default=defaults.weight_decay,
        help="weight_decay (default: %(default)s)",
    )
    group.add_argument(
        "--seed",
        dest="seed",
        type=int_or_float("seed"),
        default=defaults.seed,
        help="seed (default: %(default)s)",
    )
    group.add_argument(
        "--test-size",
        dest="test_size",
        type=float,
        default=defaults.test_size,
        help="test_size (default: %(default)s)",
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
