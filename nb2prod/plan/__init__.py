"""Plan: the analysed notebook becomes one plan, the plain data every later stage reads.

In: analysed sections and (for the service) the probe's record of a run. Out: `Plan` with
its steps, arguments, the model binding and the data step, and the service's request and
response shape. Problems found while linking sections are collected here, once.
"""
