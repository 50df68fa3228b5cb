"""Execution modes: reuse what past runs proved, so repeated goals cost fewer or no tokens.

``choose`` (CRYSTALLIZED -> FOLLOWER -> MIXED -> LEARNER from traces and tools), ``run`` (carry out
the chosen plan, fall back to the model), ``config`` (the ``modes:``/``crystallize:`` sections),
``traceindex`` and ``slots`` (what past runs did, goal templates and slot values), ``candidates`` (which
past templates may help: the seam for matching by meaning), ``evidence`` (only a trace that is what its
run committed counts), ``follow``, ``script`` and ``explain`` (whether a goal may be replayed, and the
steps with every argument derived from slots or proven constant), ``replay`` (steps replayed through the
syscall table, checked as they go), ``learned`` (listings for the CLI), ``crystallize``,
``toolstate``, ``sandbox``/``jail``/``tool_runner`` and ``tools`` (crystallized tools: made, verified in a
sandbox, offered as syscalls).

Layer: run. May import the layers below (calls, stores, formats, ground) and ``loop``; it sees the
kernel only as :class:`llmos.syscalls.Host`.
"""
