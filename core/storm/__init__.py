"""Storm mode: a system state that changes how the whole contact center behaves."""
