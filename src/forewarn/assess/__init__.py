"""The IT risk assessment (issue 9): catalog, scoring, risk, money and plans.

Pure modules: they take the plain facts in `facts` (gathered by services from what the
platform already knows) and return plain values. No database, no clock, no I/O.
"""
