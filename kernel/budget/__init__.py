"""Budget: the fail-closed spend gate, its hash-chained ledger and its alerts.

``config`` (the ``budget:`` section and the price table), ``gate`` (reserve before a model call,
settle after; ceilings per run, agent-day, day, total), ``ledger`` (append-only, hash-chained),
``alerts`` (thresholds crossed, delivered to a command).

Layer: stores. May import the ground floor (errors, atomic, halt, procs) and nothing above.
"""
