"""Python modules of the generated project that do not depend on the notebook.

They are copied byte for byte into `src/<package>/` (see `render.COPIED`), so they live
here as real modules: linted, typed and unit-tested where they are. nb2prod itself never
imports them (they need numpy and pandas, the project's requirements, not nb2prod's); it
reads them as files. They are already in the form the generated project's ruff leaves
them (line length 88, `ruff.toml` here), so rendering does not format them again.
A module that imports another generated module (`request_guard` imports `schema`) does
so relatively, as a module of the generated package.
"""
