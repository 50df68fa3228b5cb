"""Memory: tiers, working memory, remember/recall, the cold-start brief.

``model`` (the memory document format), ``store`` (remember, supersede, list, history),
``working`` (Layer 1), ``recall`` (ranked search over :mod:`llmos.index`), ``brief``, ``syscalls``
(what agents call), ``config`` (the ``memory:`` section of system/llmos.yaml).
"""
