"""Memory: tiers, working memory, remember/recall, the cold-start brief.

``names`` (tiers, kinds, folders), ``model`` (the memory document format), ``store`` (remember,
supersede, list, history), ``working`` (Layer 1), ``index`` (the whoosh index: a cache of the
files), ``recall`` (ranked search over it), ``context`` (the system prompt's memory layers under a
token budget), ``brief`` (the cold-start brief), ``recallsuite`` (the recall canary the dream
checks), ``syscalls`` (what agents call), ``config`` (the ``memory:`` section).

Layer: run. May import the layers below (calls, stores, formats, ground).
"""
