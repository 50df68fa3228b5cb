"""The memory format's vocabulary, importable without pydantic (the CLI's choices use it)."""

TIERS = ("beta", "alpha", "delta")  # promoted tiers, one folder each
ALL_TIERS = ("gamma", *TIERS, "working")  # gamma = traces, working = Layer 1
KINDS = ("fact", "workflow", "lesson", "pattern", "soul")
