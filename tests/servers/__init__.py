"""Real servers that tests start for themselves (a Chroma server, `slack serve` replicas)."""
