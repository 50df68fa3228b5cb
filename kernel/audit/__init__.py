"""Audit: every change is a git commit with trailers, and the history is read back.

``commit`` (a run's commit of exactly its files, group commit, the index kept in step), ``fastcommit``
(the same in-process: objects, ref and index written directly), ``objects`` (loose git objects and
trees), ``refs`` (refs, identity, config), ``gitindex`` (the index file), ``log`` (runs by their
``Trace-Id`` trailer, one ``git log``).

Layer: stores. May import the ground floor (errors, atomic) and nothing above.
"""
