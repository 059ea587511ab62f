"""The ``contexta`` command line."""
