"""Who is at the console: short-lived tokens, the request guards, and audited refusals."""
