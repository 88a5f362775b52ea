"""A production deployment on this machine's real services, started and stopped by the tests."""
