"""llmos: a file-based, Markdown agent operating system interpreted by an LLM.

The kernel is a library; ``llmos.cli`` is a thin client over it.
"""

__version__ = "0.1.0"
