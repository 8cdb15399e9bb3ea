"""One cell of the matrix: its run and its directory."""
