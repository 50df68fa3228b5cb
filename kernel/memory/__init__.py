"""Memory: tiers, working memory, remember/recall, the cold-start brief.

``names`` (tiers, kinds, folders), ``model`` (the memory document format), ``store`` (remember,
supersede, list, history), ``importer`` (a conversation imported as dated memories), ``working``
(Layer 1), ``index`` (SQLite FTS5: a cache of the files), ``analysis`` (the terms a text is found by),
``entries`` (a file's row in the index, the folder walk), ``recall`` (exact ranked search over it),
``hybrid`` and ``embed`` and ``vectors`` (dense embeddings from a model shipped in a package, fused
with the lexical ranking), ``context`` (the system prompt's memory layers under a token budget),
``brief`` (the cold-start brief), ``recallsuite`` (the generated recall canary the dream checks),
``convsuite`` and ``convdata`` (the realistic conversation suite), ``syscalls`` (what agents call),
``config`` (the ``memory:`` section).

Layer: run. May import the layers below (calls, stores, formats, ground).
"""
