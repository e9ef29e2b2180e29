"""The JupyterLab extension's tests: `handlers/` (pytest-jupyter, in process) and
`browser/` (a real `jupyter lab` driven in Debian's chromium)."""
