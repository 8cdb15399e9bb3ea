"""The contract between the core and its plugins: specs, the typed recipe, errors, hook specifications."""
