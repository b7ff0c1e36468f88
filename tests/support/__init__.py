"""Helpers shared by the test suite: free ports, throwaway services, the JS client driver.

``tests/`` is on ``sys.path`` while pytest runs (``tests/conftest.py`` lives there and
``tests/`` is not a package), so tests import these as ``support.<module>``.
"""
