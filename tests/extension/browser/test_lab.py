"""The panel and Export in a real JupyterLab, in Debian's chromium.

Each test opens a notebook the way a user does, works through the panel or
the Export dialog, and checks the outcome where it lands: the saved
notebook's tags, the generated files on disk, the cell an error points at.
The `page` fixture fails a test whose page logged a console error.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import EXAMPLES
from tests.extension.browser.conftest import Lab, screenshot_path

pytestmark = pytest.mark.browser

PANEL = "#nb2prod-panel"
NOTEBOOK = ".jp-NotebookPanel:not(.lm-mod-hidden)"


def wait_until(condition: Callable[[], Any], timeout: float = 30, what: str = "") -> Any:
    """Poll `condition` until it returns something truthy (files land on disk asynchronously)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what or condition}"
        time.sleep(0.1)


def open_notebook(page: Any, lab: Lab, name: str) -> None:
    """Open `name` in a fresh layout and show the nb2prod panel with its report."""
    page.goto(lab.tree(name))
    page.locator(f"{NOTEBOOK} .jp-Cell").first.wait_for()
    page.locator('.jp-SideBar .lm-TabBar-tab[data-id="nb2prod-panel"]').click()
    page.locator(f"{PANEL} .jp-nb2prod-row").first.wait_for()


def widen_panel(page: Any, by: int = 160) -> None:
    """Drag the right sidebar's edge to the left, as a user would to read longer lines."""
    handle = page.locator("#jp-main-split-panel > .lm-SplitPanel-handle:not(.lm-mod-hidden)").last
    box = handle.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] - by, box["y"] + box["height"] / 2, steps=5)
    page.mouse.up()


def row(page: Any, index: int) -> Any:
    return page.locator(f'{PANEL} .jp-nb2prod-row[data-cell-index="{index}"]')


def tags_on_disk(path: Path) -> list[list[str]]:
    """Each cell's tags as saved; none while the file is still being written."""
    try:
        cells = json.loads(path.read_text())["cells"]
    except ValueError:
        return []
    return [list(cell.get("metadata", {}).get("tags", [])) for cell in cells]


def start_export(
    page: Any, output: str, *, verify: bool = False, kfp: bool = False, via: str = "toolbar"
) -> None:
    """Export from the notebook's toolbar button or the File menu, with these answers."""
    if via == "toolbar":
        page.locator(f'{NOTEBOOK} .jp-Toolbar-item[data-jp-item-name="nb2prod-export"]').click()
    else:
        page.locator(".lm-MenuBar-itemLabel", has_text="File").click()
        page.locator(".lm-Menu-itemLabel", has_text="Export to Production Project").click()
    form = page.locator(".jp-Dialog .jp-nb2prod-export-form")
    form.wait_for()
    form.locator(".jp-nb2prod-output").fill(output)
    form.locator(".jp-nb2prod-verify").set_checked(verify)
    form.locator(".jp-nb2prod-kfp").set_checked(kfp)
    page.locator(".jp-Dialog .jp-mod-accept").click()


def active_cell_index(page: Any) -> int:
    return page.evaluate(
        """selector => [...document.querySelectorAll(selector + ' .jp-Notebook .jp-Cell')]
             .findIndex(cell => cell.classList.contains('jp-mod-active'))""",
        NOTEBOOK,
    )


def test_roles_set_in_the_panel_are_saved_as_cell_tags(page: Any, lab: Lab) -> None:
    notebook = json.loads((EXAMPLES / "wine_classifier.ipynb").read_text())
    for cell in notebook["cells"]:
        cell.get("metadata", {}).pop("tags", None)
    path = lab.root / "untagged.ipynb"
    path.write_text(json.dumps(notebook))
    parameters = next(
        i for i, c in enumerate(notebook["cells"]) if "".join(c["source"]).startswith("test_size")
    )

    open_notebook(page, lab, "untagged.ipynb")
    row(page, parameters).locator("select.jp-nb2prod-role").select_option("parameters")
    apply_all = page.locator(f"{PANEL} .jp-nb2prod-apply-all")
    wait_until(lambda: apply_all.is_enabled() and "(0)" not in apply_all.inner_text(), what="hint")
    page.screenshot(path=screenshot_path("panel-suggestions.png"))
    apply_all.click()
    wait_until(lambda: not apply_all.is_enabled(), what="every suggestion applied")
    page.locator(f"{NOTEBOOK} .jp-Notebook").click()
    page.keyboard.press("Control+s")

    saved = wait_until(
        lambda: (tags := tags_on_disk(path)) and tags[parameters] == ["parameters"] and tags,
        what="the saved notebook's tags",
    )
    written = sorted({tag for tags in saved for tag in tags})
    assert any(tag.startswith("nb2prod:") for tag in written), written
    assert set(written) <= {"parameters", *(f"nb2prod:{r}" for r in ROLE_NAMES)}, written
    assert row(page, parameters).locator("select").input_value() == "parameters"


ROLE_NAMES = ("setup", "load", "preprocess", "train", "evaluate", "predict", "test", "skip")


def test_export_writes_the_project_and_opens_a_generated_file(page: Any, lab: Lab) -> None:
    open_notebook(page, lab, "messy_churn.ipynb")
    page.locator(f"{PANEL} .jp-nb2prod-flow").first.wait_for()
    widen_panel(page)
    page.screenshot(path=screenshot_path("panel.png", readme=True))

    start_export(page, "exported/messy", verify=True, kfp=True)
    success = page.locator(".jp-Dialog .jp-nb2prod-success")
    success.wait_for(timeout=180_000)
    page.locator(".jp-Dialog-content").screenshot(
        path=screenshot_path("export-dialog.png", readme=True)
    )

    project = lab.root / "exported" / "messy"
    assert (project / "nb2prod.json").is_file()
    files = [
        name.removeprefix("exported/messy/")
        for name in success.locator(".jp-nb2prod-file").all_inner_texts()
    ]
    assert files and all((project / name).is_file() for name in files), files
    assert "pipelines/pipeline.yaml" in files  # the Kubeflow pipeline box was ticked
    pipeline = next(name for name in files if name.endswith("pipeline.py"))
    for step in ("analyse", "generate", "verify"):
        assert page.locator(f'[data-step="{step}"][data-state="done"]').count() == 1, step
    assert "checks passed" in page.locator('[data-step="verify"]').inner_text()

    success.locator(".jp-nb2prod-file", has_text=pipeline).click()
    page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text="pipeline.py").wait_for()
    page.locator(".jp-FileEditor:not(.lm-mod-hidden)").first.wait_for()
    assert page.locator(".jp-Dialog").count() == 0


def test_a_broken_notebook_shows_its_error_on_the_cell(page: Any, lab: Lab) -> None:
    open_notebook(page, lab, "broken.ipynb")
    assert "jp-nb2prod-row-error" in (row(page, 4).get_attribute("class") or "")

    start_export(page, "exported/broken", via="menu")
    failure = page.locator(".jp-Dialog .jp-nb2prod-failure")
    failure.wait_for()
    assert "cell 4" in failure.inner_text()
    assert page.locator('[data-step="analyse"][data-state="failed"]').count() == 1
    page.locator(".jp-Dialog").screenshot(path=screenshot_path("export-error.png"))

    failure.locator(".jp-nb2prod-show-cell").click()
    highlighted = page.locator(f"{PANEL} .jp-nb2prod-row-highlight").first
    highlighted.wait_for()
    assert highlighted.get_attribute("data-cell-index") == "4"
    assert "syntax" in highlighted.locator(".jp-nb2prod-export-error").inner_text().lower()
    wait_until(lambda: active_cell_index(page) == 4, what="cell 4 selected in the notebook")
    assert not (lab.root / "exported" / "broken").exists()
    # The convert request is refused (400 with the blocking problems): the one error the
    # browser logs, since the dialog no longer asks `check` first (an Export analyses once).
    refused = "console: Failed to load resource: the server responded with a status of 400"
    logged = page.console_errors.messages
    assert [m for m in logged if m.startswith(refused)] == logged[:1] and len(logged) == 1, logged
    logged.clear()


def test_the_panel_works_from_the_keyboard_and_in_the_dark_theme(page: Any, lab: Lab) -> None:
    open_notebook(page, lab, "wine_classifier.ipynb")
    first = page.locator(f"{PANEL} .jp-nb2prod-row").first
    first.focus()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    focused = page.evaluate("document.activeElement.dataset.cellIndex")
    page.keyboard.press("Enter")
    wait_until(lambda: active_cell_index(page) == int(focused), what="Enter selects the cell")

    # an edit (not saved) shows in the panel once typing pauses
    first_code = int(first.get_attribute("data-cell-index"))
    editor = (
        page.locator(f"{NOTEBOOK} .jp-Notebook .jp-Cell").nth(first_code).locator(".cm-content")
    )
    editor.click()
    page.keyboard.press("Control+Home")
    page.keyboard.type("# nb2prod: skip\n")
    picker = row(page, first_code).locator("select")
    wait_until(lambda: picker.input_value() == "skip", what="the panel to follow the edit")
    page.keyboard.press("Escape")

    # a role picked from the keyboard: the panel re-renders and keeps the focus on the picker
    focused_picker = row(page, int(focused)).locator("select")
    focused_picker.focus()
    before = focused_picker.input_value()
    page.keyboard.press("ArrowDown")
    wait_until(lambda: focused_picker.input_value() != before, what="a new role from the keyboard")
    wait_until(
        lambda: (
            page.evaluate("document.activeElement.getAttribute('aria-label')")
            == f"role of cell {focused}"
        ),
        what="the focus to stay on the picker",
    )

    page.keyboard.press("Control+Shift+c")
    page.keyboard.type("Export to Production")
    page.locator(".lm-CommandPalette-item", has_text="Export to Production Project").wait_for()
    page.keyboard.press("Escape")

    page.locator(".lm-MenuBar-itemLabel", has_text="Settings").click()
    page.locator(".lm-Menu-itemLabel").get_by_text("Theme", exact=True).click()
    page.locator(".lm-Menu-itemLabel").get_by_text("JupyterLab Dark", exact=True).click()
    wait_until(
        lambda: page.evaluate("document.body.dataset.jpThemeLight") == "false", what="dark theme"
    )
    panel_background = page.locator(PANEL).evaluate("e => getComputedStyle(e).backgroundColor")
    assert _is_dark(panel_background), panel_background
    page.screenshot(path=screenshot_path("panel-dark.png"))


def _is_dark(css_color: str) -> bool:
    """`rgb(33, 33, 33)` or `rgba(...)`: is it a dark colour?"""
    channels = re.findall(r"[\d.]+", css_color)[:3]
    return sum(float(channel) for channel in channels) / 3 < 100


def test_an_export_that_cannot_run_shows_what_the_server_lacks(page: Any, lab: Lab) -> None:
    """The generate step fails (a module the server's Python lacks); under the error,
    the doctor's findings name that import and the pip line that installs it."""
    notebook = json.loads((EXAMPLES / "wine_classifier.ipynb").read_text())
    first = next(c for c in notebook["cells"] if c["cell_type"] == "code")
    source = "".join(first["source"])
    first["source"] = f"import nb2prod_absent_pkg\n{source}\nnb2prod_absent_pkg.configure()\n"
    (lab.root / "absent.ipynb").write_text(json.dumps(notebook))

    open_notebook(page, lab, "absent.ipynb")
    start_export(page, "exported/absent")
    doctor = page.locator(".jp-Dialog .jp-nb2prod-failure ~ .jp-nb2prod-doctor")
    doctor.wait_for(timeout=120_000)
    assert page.locator('[data-step="generate"][data-state="failed"]').count() == 1
    fact = doctor.locator('[data-doctor="import nb2prod_absent_pkg"]')
    assert "missing" in fact.inner_text()
    assert fact.locator(".jp-nb2prod-fix").inner_text() == "fix: pip install nb2prod-absent-pkg"
    page.locator(".jp-Dialog-content").screenshot(path=screenshot_path("export-doctor.png"))
