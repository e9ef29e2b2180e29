"""Make the tagged notebook a user would make from an original in tests/realworld/notebooks/.

    python tests/realworld/tag.py ID [OUT_DIR]   # writes OUT_DIR/ID.ipynb (default: a temp dir)

tests/realworld/tags/ID.json holds what the user does, and nothing else:

    {"tags": {"7": ["nb2prod:load"], "12-31": ["skip"], "158-": ["skip"]},
     "edits": [{"cell": 8, "old": "fetch_housing_data()", "new": "...", "why": "no network"}]}

`tags` keys are cell indexes (0-based, over all cells, as in the original), inclusive ranges
`A-B`, or `A-` (to the end); ranges apply first, single cells after, and only to code cells. Tags
are added to the cell's own tags (Kale notebooks keep theirs). `edits` replace `old` by `new` in
one cell's source; `old` must occur exactly once, so an edit that no longer applies fails loudly.
`add_cells` inserts new code cells after an original cell (`{"after": 64, "source": "...",
"tags": ["pipeline-metrics"], "why": "..."}`), after all tags and edits, so indexes always mean
the original's cells.
Files the notebook reads (tests/realworld/data/ID/...) are copied beside it.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
NOTEBOOKS = HERE / "notebooks"
TAGS = HERE / "tags"
DATA = HERE / "data"


class TagError(Exception):
    pass


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _indexes(key: str, count: int) -> list[int]:
    if "-" in key:
        start, _, end = key.partition("-")
        last = int(end) if end else count - 1
        return list(range(int(start), min(last, count - 1) + 1))
    index = int(key)
    if not 0 <= index < count:
        raise TagError(f"cell {index} does not exist ({count} cells)")
    return [index]


def tagged(notebook_id: str) -> dict:
    """The tagged notebook (as JSON) for `notebook_id`."""
    node = json.loads((NOTEBOOKS / f"{notebook_id}.ipynb").read_text(encoding="utf-8"))
    recipe = json.loads((TAGS / f"{notebook_id}.json").read_text(encoding="utf-8"))
    cells = node["cells"]
    for edit in recipe.get("edits", []):
        cell = cells[edit["cell"]]
        source = _source(cell)
        found = source.count(edit["old"])
        if found != 1:
            raise TagError(
                f"{notebook_id}: edit of cell {edit['cell']} finds its text {found} times"
            )
        cell["source"] = source.replace(edit["old"], edit["new"])
    singles = {k: v for k, v in recipe.get("tags", {}).items() if "-" not in k}
    ranges = {k: v for k, v in recipe.get("tags", {}).items() if "-" in k}
    for group in (ranges, singles):
        for key, tags in group.items():
            for index in _indexes(key, len(cells)):
                cell = cells[index]
                if cell.get("cell_type") != "code":
                    if key in singles:
                        raise TagError(f"{notebook_id}: cell {index} is not a code cell")
                    continue
                own = cell.setdefault("metadata", {}).setdefault("tags", [])
                if group is singles:  # a single cell's role wins over a range's
                    own[:] = [t for t in own if t not in ("skip", "nb2prod:skip")]
                for tag in tags:
                    if tag not in own:
                        own.append(tag)
    for added in sorted(recipe.get("add_cells", []), key=lambda a: a["after"], reverse=True):
        if not 0 <= added["after"] < len(cells):
            raise TagError(f"{notebook_id}: cannot add a cell after cell {added['after']}")
        tags = list(added.get("tags", []))
        cell = {"cell_type": "code", "execution_count": None, "outputs": [],
                "metadata": {"tags": tags}, "source": added["source"]}  # fmt: skip
        cells.insert(added["after"] + 1, cell)
    return node


def write_tagged(notebook_id: str, out_dir: Path) -> Path:
    """Write the tagged notebook and the files it reads into `out_dir`; return its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{notebook_id}.ipynb"
    target.write_text(json.dumps(tagged(notebook_id), indent=1, ensure_ascii=False) + "\n")
    data = DATA / notebook_id
    if data.is_dir():
        for path in data.rglob("*"):
            if path.is_file():
                dest = out_dir / path.relative_to(data)
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, dest)
    return target


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    out = Path(argv[1]) if len(argv) > 1 else Path(tempfile.mkdtemp(prefix="nb2prod-rw-"))
    print(write_tagged(argv[0], out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
