"""Front ends: the ways people reach the commands.

The `nb2prod` CLI and its terminal printing, the nbconvert exporter, and the Jupyter
Server extension behind the JupyterLab panel. They parse input and show results; no
conversion logic lives here.
"""
