"""Scripts for people working on the project (not run by pytest)."""
