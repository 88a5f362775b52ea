"""Structured, human-readable attributes of tracklets: VLM (enhanced), CLIP zero-shot (fast), pixel colours (offline)."""
