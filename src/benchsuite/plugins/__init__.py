"""Plugin loading (a plugin manager per registry) and the registry of what the plugins registered."""
