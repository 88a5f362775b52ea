"""Re-identification quality, measured the way the field does (Market-1501 retrieval protocol, ...)."""
