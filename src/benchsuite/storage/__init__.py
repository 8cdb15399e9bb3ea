"""The results store: every cell directory of an output directory, and the index over them."""
