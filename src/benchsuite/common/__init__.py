"""Small helpers every stage uses: the progress display and provenance."""
