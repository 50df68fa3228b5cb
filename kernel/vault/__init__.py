"""WORM vault: sealed, hash-chained snapshots of an OS root."""
