"""Read: a notebook (a file, bytes or an in-memory node) becomes cells with roles.

In: an `.ipynb` path or content. Out: `Notebook` (plain cells, IPython syntax made plain
Python, magics decided one by one), roles per cell grouped into sections, and suggested
roles for untagged cells. Nothing here looks at what the code means.
"""
