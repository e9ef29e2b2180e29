"""Strip outputs from an original notebook, reproducibly: the only change to the stored copies.

    git -C MIRROR show COMMIT:PATH | python tests/realworld/strip.py > notebooks/ID.ipynb

Code cells lose `outputs` and `execution_count`; nothing else changes (sources, cell metadata and
tags, notebook metadata, cell order). The manifest records the git blob id of the original file at
its commit (`blob`), so anyone can fetch it and re-run this to get the same bytes.
"""

from __future__ import annotations

import json
import sys


def strip(text: str) -> str:
    node = json.loads(text)
    for cell in node.get("cells", []):
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    return json.dumps(node, indent=1, ensure_ascii=False, sort_keys=True) + "\n"


if __name__ == "__main__":
    sys.stdout.write(strip(sys.stdin.buffer.read().decode("utf-8")))
