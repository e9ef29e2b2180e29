"""Generate: plan -> files -> disk.

What enters is the plan (and what a run of it recorded); what leaves is the generated
project's files, written to the output folder. For now this stage holds only the files
copied into every project as they are: `runtime/` (Python modules the generated project
runs) and `static/` (its other files without a template variable).
"""
