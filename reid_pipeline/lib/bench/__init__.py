"""Benchmarks behind `reid-pipeline bench`: detector and embedder speed, identity clustering at scale, separability."""
