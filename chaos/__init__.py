"""Fault drills on the production setup (`make chaos`): PostgreSQL, Redis, API and worker
processes, a fake Twilio; each drill breaks one thing under load and then counts, from the
stores of truth, what came in, what went out, and what was lost or doubled."""
