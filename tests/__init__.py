"""The test suite: unit tests (the fast tier) and integration tests; see conftest.py."""
