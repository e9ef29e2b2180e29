"""Run: the generated project's code, run in child processes of this interpreter.

In: a generated project (or only its `src/`) and a typed spec from `nb2prod.protocol`.
Out: a typed result. The probe records what a run produced, verify's child runs the
project's functions, papermill runs the notebook, and image/serve start the container or
the service. Children speak only through `nb2prod.protocol`.
"""
