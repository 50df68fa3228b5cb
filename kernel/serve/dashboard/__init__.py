"""The read-only dashboard of ``llmos serve`` and ``llmos report --html``.

``data`` gathers each view's figures from the files (traces, memories, ledger, tools, blobs,
vault); ``render`` turns them into HTML pages with plotly figures and Markdown rendered by
markdown-it-py; ``app`` serves the pages (``llmos serve``); ``report`` writes them all into one
self-contained file. Nothing here writes to the root.
"""
