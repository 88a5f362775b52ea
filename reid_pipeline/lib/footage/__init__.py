"""Footage intake: finding and probing video files, their timestamps, frame sampling, isolation of risky decodes, and per-file outcomes."""
