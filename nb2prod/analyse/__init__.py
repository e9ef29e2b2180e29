"""Analyse: sections become name flow and findings.

In: the read stage's sections. Out: per section, the module-level code and function body
with the names it reads, binds and mutates; typed parameters; what each role must hand
on; and findings in the code (hazards, the rows a predict cell picks, printed scores,
shown predictions). Each module answers one question about the code; none runs it.
"""
