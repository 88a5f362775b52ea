"""Image embedders: open_clip (standard) and ImageNet CNNs whose weights ship in packages (offline)."""
