"""BentoML's floor: a BentoML 1.4 service that answers a constant, nothing else.

It runs with the generated service's own ``@bentoml.service(...)`` settings
(``BENTO_FLOOR_CONFIG``, the JSON of the generated class's ``config``, which
``bench_generated.py`` reads from the project), so the difference between the two
is the generated service's own work: the request guard, the row model, the
conversions and the model. The difference between this and ``trivial_asgi.py`` is
BentoML's per-request machinery with those settings.

    BENTO_FLOOR_CONFIG='{"traffic": {"timeout": 10}}' bentoml serve bento_floor:Floor
"""

from __future__ import annotations

import gc
import json
import os
from typing import Any

import bentoml
from pydantic import BaseModel, ConfigDict

CONFIG: dict[str, Any] = json.loads(os.environ.get("BENTO_FLOOR_CONFIG", "{}"))
CONFIG.pop("name", None)


class AnyRow(BaseModel):
    """Any JSON object: the floor checks nothing."""

    model_config = ConfigDict(extra="allow")


class Answer(BaseModel):
    """The constant answer, a model as the generated service's (a dict or list would cost
    BentoML a JSON schema per response)."""

    predictions: int


@bentoml.service(name="bento-floor", **CONFIG)
class Floor:
    """Reads the JSON row (any object) and answers the same label for it."""

    def __init__(self) -> None:
        gc.collect()  # the generated service's garbage-collector settings too
        gc.freeze()
        gc.set_threshold(10_000, 50, 1_000)

    @bentoml.api(route="/predict")
    async def predict(self, row: AnyRow, /) -> Answer:
        """The constant answer."""
        return Answer(predictions=0)
