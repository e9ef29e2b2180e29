"""Data flow across sections: inputs, outputs, in-place mutation, and the problems it finds."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import pytest

from nb2prod.analyse.names import name_events
from nb2prod.commands.check import check_report
from nb2prod.commands.convert import convert
from nb2prod.plan.build import Plan, build_plan
from nb2prod.read.notebook import load_notebook
from tests.conftest import make_notebook

MUTATIONS = [
    "import numpy as np\nimport pandas as pd",
    ("scale = 2.0  # multiplies the target", ["parameters"]),
    (
        "df = pd.DataFrame({'a': [3.0, None, 1.0, 4.0], 'b': [1.0, 2.0, 3.0, 4.0]})\n"
        "columns = ['a']\nweights = np.ones(3)",
        ["nb2prod:load"],
    ),
    ("df.fillna(0.0, inplace=True)\ncolumns.append('b')\nweights += 1", ["nb2prod:preprocess"]),
    # a step that fits no model: `train` must hand on one (see test_trust.py)
    ("df['b'] *= scale\nmodel = df[columns].sum()", ["step:aggregate"]),
    ("total = float(model.sum() * weights.sum())", ["nb2prod:evaluate"]),
]


def _plan(tmp_path: Path, cells: list) -> Plan:
    return build_plan(load_notebook(make_notebook(tmp_path / "nb.ipynb", cells)))


def _step(plan: Plan, function: str):
    return next(s for s in plan.steps if s.function == function)


def test_in_place_mutations_are_returned_to_later_sections(tmp_path: Path) -> None:
    plan = _plan(tmp_path, MUTATIONS)
    preprocess = _step(plan, "preprocess")
    assert [a.name for a in preprocess.arguments] == ["df", "columns", "weights"]
    assert preprocess.outputs == ("df", "columns", "weights")
    aggregate = _step(plan, "aggregate")
    assert [(a.name, a.from_config) for a in aggregate.arguments] == [
        ("df", False),
        ("columns", False),
        ("scale", True),
    ]
    assert plan.metrics.sources == ("total",)


def _run_generated(tmp_path: Path, cells: list, name: str) -> dict:
    """Convert `cells` as notebook `name` and run its generated pipeline in-process."""
    path = make_notebook(tmp_path / f"{name}.ipynb", cells)
    convert(path, tmp_path / name)
    sys.path.insert(0, str(tmp_path / name / "src"))
    try:
        pipeline = importlib.import_module(f"{name}.pipeline")
        config = importlib.import_module(f"{name}.config")
        return pipeline.run_pipeline(config.Config())
    finally:
        sys.path.remove(str(tmp_path / name / "src"))
        for module in [m for m in sys.modules if m.startswith(name)]:
            del sys.modules[module]


def test_generated_pipeline_keeps_every_mutation(tmp_path: Path) -> None:
    """Run the generated pipeline in-process and get the notebook's value.

    After fillna a = [3, 0, 1, 4]; b *= 2 gives [2, 4, 6, 8]; columns gained "b", so
    model = [8, 20]; weights += 1 gives [2, 2, 2]. total = 28 * 6 = 168. Losing any one
    mutation gives another number (or NaN).
    """
    outputs = _run_generated(tmp_path, MUTATIONS, "mutations")
    assert outputs["total"] == 168.0


@pytest.mark.parametrize(
    ("source", "mutated"),
    [
        ("df.dropna(inplace=True)", {"df"}),
        ("df['a'].fillna(0, inplace=True)", {"df"}),
        ("items.append(1)", {"items"}),
        ("arr += 1", {"arr"}),
        ("frame.loc[0, 'a'] = 1", {"frame"}),
        ("obj.attr = 3", {"obj"}),
        ("model.fit(X, y)", {"model"}),
        ("np.random.shuffle(arr)", {"arr", "np"}),  # module names are filtered later
        ("df = df.dropna()", set()),
    ],
)
def test_mutations_are_recognised(source: str, mutated: set[str]) -> None:
    import ast

    events = [e for node in ast.parse(source).body for e in name_events(node)]
    assert {e.name for e in events if e.kind == "mutate"} == mutated


def test_loop_variables_are_local(tmp_path: Path) -> None:
    plan = _plan(
        tmp_path,
        [
            ("import pandas as pd\ndf = pd.DataFrame({'a': [1]})", ["nb2prod:load"]),
            (
                "for i in range(3):\n    df[f'c{i}'] = i\n    last = i\nprint(last)",
                ["nb2prod:preprocess"],
            ),
        ],
    )
    assert not plan.blocking
    assert [a.name for a in _step(plan, "preprocess").arguments] == ["df"]


BOUND_BY_MATCH_AND_WALRUS = [
    (
        "import pandas as pd\ndf = pd.DataFrame({'a': [1.0, 2.0], 'b': [3.0, 4.0]})",
        ["nb2prod:load"],
    ),
    (
        "match df.shape:\n"
        "    case (n_rows, n_cols):\n"
        "        size = n_rows * n_cols\n"
        "    case _:\n"
        "        size = 0\n"
        "scaled = [last := v * 2 for v in df['a']]",
        ["nb2prod:preprocess"],
    ),
    ("total = float(size + n_cols + last + sum(scaled))", ["nb2prod:evaluate"]),
]


def test_match_captures_and_comprehension_walrus_are_handed_on(tmp_path: Path) -> None:
    """`case (n_rows, n_cols)` and `[last := ... for ...]` bind names the next section
    reads: check finds no problem and the pipeline computes the notebook's value
    (size 4 + n_cols 2 + last 4.0 + scaled [2.0, 4.0] = 16.0)."""
    path = make_notebook(tmp_path / "nb.ipynb", BOUND_BY_MATCH_AND_WALRUS)
    report = check_report(path)
    assert report["problems"] == []
    preprocess = next(f for f in report["functions"] if f["name"] == "preprocess")
    assert preprocess["outputs"] == ["n_cols", "size", "last", "scaled"]
    assert _run_generated(tmp_path, BOUND_BY_MATCH_AND_WALRUS, "bound")["total"] == 16.0


def test_functions_reading_notebook_variables_get_them_as_parameters(tmp_path: Path) -> None:
    cells = [
        ("factor = 2  # a parameter", ["parameters"]),
        ("offset = 10", ["nb2prod:load"]),
        (
            "def scale(x):\n    return x * factor + offset\n\n"
            "def scale_all(xs):\n    return [scale(x) for x in xs]",
            ["nb2prod:preprocess"],
        ),
        ("values = scale_all([1, 2])\nfirst = scale(1,)", ["step:compute"]),
        ("total_score = float(sum(values) + first)", ["nb2prod:evaluate"]),
    ]
    plan = _plan(tmp_path, cells)
    assert not plan.blocking
    [scale, scale_all] = plan.definitions
    assert scale.startswith("def scale(x, *, factor, offset):")
    assert scale_all.startswith("def scale_all(xs, *, factor, offset):")
    assert "scale(x, factor=factor, offset=offset)" in scale_all
    compute = _step(plan, "compute")
    assert "scale(1, factor=factor, offset=offset)" in compute.body
    assert {(a.name, a.from_config) for a in compute.arguments} == {
        ("offset", False),
        ("factor", True),
    }
    outputs = _run_generated(tmp_path, cells, "scaled")
    assert outputs["total_score"] == (12 + 14) + 12


def test_a_function_passed_as_a_value_cannot_get_its_globals(tmp_path: Path) -> None:
    plan = _plan(
        tmp_path,
        [
            ("factor = 2", ["parameters"]),
            ("def scale(x):\n    return x * factor", ["nb2prod:preprocess"]),
            ("values = list(map(scale, [1, 2]))", ["step:compute"]),
        ],
    )
    [problem] = plan.blocking
    assert problem.code == "function-used-as-value"
    assert "functools.partial(scale, factor=factor)" in problem.fix
    assert problem.cell is not None and problem.cell.index == 2


def test_a_class_reading_a_notebook_variable_is_an_error(tmp_path: Path) -> None:
    plan = _plan(
        tmp_path,
        [
            ("factor = 2", ["parameters"]),
            ("class Scaler:\n    def f(self, x):\n        return x * factor", ["nb2prod:load"]),
        ],
    )
    [problem] = plan.blocking
    assert problem.code == "function-reads-global" and "`factor`" in problem.message


def test_skipped_imports_and_definitions_are_reported(tmp_path: Path) -> None:
    plan = _plan(
        tmp_path,
        [
            ("import seaborn as sns", ["skip"]),
            ("x = sns.load()", ["nb2prod:load"]),
        ],
    )
    [problem] = plan.blocking
    assert problem.code == "defined-in-skipped-cell"


def test_parameters_must_be_literals(tmp_path: Path) -> None:
    plan = _plan(tmp_path, [("a = 1\nb = a * 2", ["parameters"]), ("c = b", ["nb2prod:load"])])
    assert plan.blocking[0].code == "parameter-not-literal"
    assert plan.blocking[0].cell is not None and plan.blocking[0].cell.line == 2


def test_display_only_lines_are_dropped(tmp_path: Path) -> None:
    plan = _plan(
        tmp_path,
        [
            (
                "import pandas as pd\ndf = pd.DataFrame({'a': [1]})\ndf.head()\ndf\nlen(df)",
                ["nb2prod:load"],
            )
        ],
    )
    assert (
        _step(plan, "load_data").body == ["import pandas as pd", "df = pd.DataFrame({'a': [1]})"][1]
    )


def test_manifest_maps_cells_to_functions(tmp_path: Path) -> None:
    path = make_notebook(tmp_path / "mutations.ipynb", MUTATIONS)
    convert(path, tmp_path / "out")
    manifest = json.loads((tmp_path / "out" / "nb2prod.json").read_text())
    assert {c["index"]: c["function"] for c in manifest["cells"]}[3] == "preprocess"
    assert manifest["source"]["sha256"] == load_notebook(path).sha256
    assert "src/mutations/pipeline.py" in manifest["files"]


def test_secrets_block_and_hard_coded_paths_warn(tmp_path: Path) -> None:
    plan = _plan(
        tmp_path,
        [
            (
                "import pandas as pd\napi_key = 'abcd1234efgh'\n"
                "df = pd.read_csv('/home/ana/data.csv')\nextra = pd.read_csv('extra.csv')",
                ["nb2prod:load"],
            ),
        ],
    )
    codes = {(p.code, p.severity.value, p.cell.line if p.cell else None) for p in plan.problems}
    assert ("secret", "error", 2) in codes
    assert ("hard-coded-path", "warning", 3) in codes
    assert ("hard-coded-path", "warning", 4) in codes


def test_test_cells_get_the_imports_and_functions_they_use(tmp_path: Path) -> None:
    plan = _plan(
        tmp_path,
        [
            "import numpy as np\n\ndef double(x):\n    return 2 * x",
            ("values = np.arange(3)", ["nb2prod:load"]),
            ("assert double(np.sum(values)) == 6", ["nb2prod:test"]),
        ],
    )
    assert plan.test_imports == ("import numpy as np", "from nb.pipeline import double")


def test_literal_constants_beside_a_class_move_to_module_level(tmp_path: Path) -> None:
    """`rooms_ix, bedrooms_ix = 3, 4` above a transformer that reads them, as in
    handson-ml2's housing chapter: the constants go where the class goes."""
    cells = [
        "ratio_ix, base_ix = 1, 0\n\n"
        "class Ratio:\n    def transform(self, rows):\n"
        "        return [r[ratio_ix] / r[base_ix] for r in rows]",
        ("rows = [[2.0, 4.0], [1.0, 3.0]]", ["nb2prod:load"]),
        ("ratios = Ratio().transform(rows)", ["step:features"]),
        ("total = sum(ratios)", ["nb2prod:evaluate"]),
    ]
    plan = _plan(tmp_path, cells)
    assert not plan.blocking
    assert plan.definitions[0] == "ratio_ix, base_ix = 1, 0"
    outputs = _run_generated(tmp_path, cells, "ratios")
    assert outputs["total"] == 5.0  # 4 / 2 + 3 / 1


def test_a_constant_changed_later_is_still_a_variable(tmp_path: Path) -> None:
    cells = [
        "scale = 2\n\nclass Scaler:\n    def apply(self, x):\n        return x * scale",
        ("scale = 3\nvalue = Scaler().apply(1)", ["nb2prod:load"]),
    ]
    [problem] = _plan(tmp_path, cells).blocking
    assert problem.code == "function-reads-global" and "`scale`" in problem.message


@pytest.mark.parametrize(
    ("call", "rewritten"),
    [
        ("x = scale(\n    1,  # one\n)\n", "x = scale(\n    1, factor=factor,  # one\n)\n"),
        (
            "scale(\n    1,\n    2\n    # end\n)\n",
            "scale(\n    1,\n    2, factor=factor\n    # end\n)\n",
        ),
        ("scale()\n", "scale(factor=factor)\n"),
        ("scale(a, *r, k=1, **kw)\n", "scale(a, *r, k=1, **kw, factor=factor)\n"),
        ("scale(v for v in vs)\n", "scale((v for v in vs), factor=factor)\n"),
        (
            'y = [scale("é"), scale(é)]\n',
            'y = [scale("é", factor=factor), scale(é, factor=factor)]\n',
        ),
    ],
)
def test_call_rewrite_goes_after_the_last_argument(call: str, rewritten: str) -> None:
    """Fuzz finding multiline-call-comment: a comment after the last argument's comma
    used to get `, factor=factor` after it (a double comma, then exit 3)."""
    import ast

    from nb2prod.analyse.globals_rewrite import rewrite_source

    assert rewrite_source(call, ast.parse(call), {"scale": ["factor"]}) == rewritten


def test_multiline_call_with_a_comment_converts(tmp_path: Path) -> None:
    cells = [
        "factor = 2",
        "def scale(v):\n    return v * factor",
        ("x = scale(\n    1,  # one\n)", ["nb2prod:load"]),
        ("total = float(x)", ["nb2prod:evaluate"]),
    ]
    assert not _plan(tmp_path, cells).blocking
    assert _run_generated(tmp_path, cells, "commented")["total"] == 2.0


def test_definitions_in_cells_joining_the_parameters_section_are_kept(tmp_path: Path) -> None:
    """Fuzz finding definitions-in-parameters-section: `def double` in an untagged cell
    after the parameters cell was left out of pipeline.py (NameError)."""
    cells = [
        ("n = 3", ["parameters"]),
        "def double(v):\n    return v * 2",
        ("x = double(n)", ["nb2prod:load"]),
        ("total = float(x)", ["nb2prod:evaluate"]),
    ]
    plan = _plan(tmp_path, cells)
    assert not plan.blocking
    assert [d.splitlines()[0] for d in plan.definitions] == ["def double(v):"]
    assert _run_generated(tmp_path, cells, "doubled")["total"] == 6.0


@pytest.mark.parametrize(
    ("step", "function"),
    [
        ("config", "config_step"),
        ("run_pipeline", "run_pipeline_step"),
        ("fingerprint", "fingerprint_step"),
        ("data_sha256", "data_sha256_step"),
        ("Any", "Any_step"),
    ],
)
def test_steps_never_take_the_generated_modules_own_names(
    tmp_path: Path, step: str, function: str
) -> None:
    """Fuzz finding step-name-shadows-generated-name: `step:config` became `def config`,
    which run_pipeline's `config` argument hid ('Config' object is not callable)."""
    cells = [
        ("x = 1", ["nb2prod:load"]),
        ("y = x + 1", [f"step:{step}"]),
        ("total = float(y)", ["nb2prod:evaluate"]),
    ]
    steps = [s.function for s in _plan(tmp_path, cells).steps]
    assert steps == ["load_data", function, "evaluate"]
    assert _run_generated(tmp_path, cells, f"shadow_{step.lower()}")["total"] == 2.0


def test_a_notebook_variable_named_config_renames_run_pipelines_argument(tmp_path: Path) -> None:
    """Fuzz finding config-variable: the notebook's `config` replaced run_pipeline's."""
    cells = [
        ("n = 2", ["parameters"]),
        ('config = {"a": 1}\nfingerprint = "f"', ["nb2prod:load"]),
        ('total = float(config["a"] * n)\nlabel = fingerprint', ["nb2prod:evaluate"]),
        ("assert label == 'f'", ["nb2prod:test"]),
    ]
    plan = _plan(tmp_path, cells)
    assert plan.template_names == {
        "config": "config_",
        "Config": "Config",
        "fingerprint": "fingerprint_",
    }
    outputs = _run_generated(tmp_path, cells, "configured")
    assert (outputs["total"], outputs["label"], outputs["config"]) == (2.0, "f", {"a": 1})
    assert len(outputs["data_sha256"]) == 64


@pytest.mark.parametrize(
    ("source", "name"),
    [
        ("def run_pipeline():\n    return 1", "run_pipeline"),
        ("from os import path as load_training_data", "load_training_data"),
        ("data_sha256 = 'abc'", "data_sha256"),
    ],
)
def test_notebook_names_pipeline_py_needs_are_refused(
    tmp_path: Path, source: str, name: str
) -> None:
    plan = _plan(tmp_path, [(f"{source}\nx = 1", ["nb2prod:load"])])
    [problem] = [p for p in plan.blocking if p.code == "generated-name-clash"]
    assert f"`{name}`" in problem.message and problem.cell is not None


def test_a_function_declaring_global_is_an_error_with_a_fix(tmp_path: Path) -> None:
    """Fuzz finding global-statement-rewrite: `global counter` plus an added `*, counter`
    parameter was a SyntaxError in the generated code."""
    cells = [
        "counter = 0",
        "def bump():\n    global counter\n    counter += 1",
        ("bump()", ["nb2prod:load"]),
    ]
    plan = _plan(tmp_path, cells)
    [problem] = plan.blocking
    assert problem.code == "function-sets-global" and "`counter`" in problem.message
    assert "counter = bump(counter)" in problem.fix
    assert problem.cell is not None and problem.cell.index == 1


def test_a_global_constant_of_its_own_cell_moves_with_the_function(tmp_path: Path) -> None:
    cells = [
        "counter = 0\n\ndef bump():\n    global counter\n    counter += 1\n    return counter",
        ("value = bump()", ["nb2prod:load"]),
        ("total = float(value)", ["nb2prod:evaluate"]),
    ]
    assert not _plan(tmp_path, cells).blocking
    assert _run_generated(tmp_path, cells, "bumped")["total"] == 1.0


@pytest.mark.parametrize(
    ("source", "line"),
    [
        ("import asyncio\nawait asyncio.sleep(0)", 2),
        ("x = 1\nasync with lock:\n    pass", 2),
        ("values = [v async for v in source()]", 1),
    ],
)
def test_top_level_await_is_an_error_suggesting_asyncio_run(
    tmp_path: Path, source: str, line: int
) -> None:
    """Fuzz finding top-level-await: the cell became a plain def (SyntaxError)."""
    plan = _plan(tmp_path, [(source, ["nb2prod:load"])])
    [problem] = [p for p in plan.blocking if p.code == "top-level-await"]
    assert "asyncio.run" in problem.fix
    assert problem.cell is not None and problem.cell.line == line


def test_await_inside_an_async_function_is_fine(tmp_path: Path) -> None:
    source = "import asyncio\n\nasync def main():\n    await asyncio.sleep(0)\n    return 1"
    cells = [(source, ["nb2prod:load"]), ("x = asyncio.run(main())", ["step:run"])]
    assert not _plan(tmp_path, cells).blocking


def test_constants_read_by_default_arguments_move_with_the_function(tmp_path: Path) -> None:
    """handson-ml2's `def fetch_housing_data(housing_path=HOUSING_PATH)`, with
    `HOUSING_PATH = os.path.join(ROOT, "housing")` in the same cell."""
    cells = [
        "import os\n\nROOT = 'datasets'\nHOUSING_PATH = os.path.join(ROOT, 'housing')\n\n"
        "def where(path=HOUSING_PATH):\n    return path",
        ("location = where()", ["nb2prod:load"]),
        ("length = float(len(location))", ["nb2prod:evaluate"]),
    ]
    plan = _plan(tmp_path, cells)
    assert not plan.blocking
    assert plan.definitions[:2] == (
        "ROOT = 'datasets'",
        "HOUSING_PATH = os.path.join(ROOT, 'housing')",
    )
    assert _run_generated(tmp_path, cells, "housing")["length"] == len("datasets/housing")


def test_a_default_argument_reading_a_variable_is_a_clear_error(tmp_path: Path) -> None:
    cells = [
        ("import pandas as pd\nframe = pd.DataFrame({'a': [1]})", ["nb2prod:load"]),
        ("def first(table=frame):\n    return table.iloc[0]\n\nrow = first()", ["step:pick"]),
    ]
    [problem] = _plan(tmp_path, cells).blocking
    assert problem.code == "function-reads-global" and "`frame`" in problem.message
