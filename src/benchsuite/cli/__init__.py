"""The ``benchsuite`` command line, one module per command."""
