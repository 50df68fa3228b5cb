"""Many agents: a run's scope, delegation, agents made at run time, claims and handoffs.

``scope`` (what one run does around the loop: registry entry, ceilings, children, trailers),
``delegate`` and ``spawn`` (child runs and new agents), ``claims`` (leases on resources, handoffs),
``runs`` (the running-runs registry), ``lineage`` (what a child inherits), ``valence`` (per-agent
outcome memory), ``tracetree`` (a run and its children), ``syscalls`` (the family agents call).

Layer: run. May import the layers below; it sees the kernel only as :class:`llmos.syscalls.Host`.
"""
