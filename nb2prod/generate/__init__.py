"""Generate: the plan becomes the project's files, and the files reach the disk.

In: the plan (and what the probe recorded of a run). Out: the generated project's files,
rendered in memory from the templates, formatted by ruff, with pinned requirements, then
written to the output folder without losing an edited file. `runtime/` and `static/`
hold what is copied into every project as it is.
"""
