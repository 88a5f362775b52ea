"""Identities: tracklets matched across cameras within a day, then daily entities linked across days."""
