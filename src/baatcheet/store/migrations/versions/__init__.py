"""Migration scripts, oldest first; each is frozen once released."""
