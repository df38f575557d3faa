"""Bulk outage notices: planned in the outage's transaction (outbox), relayed, sent exactly once."""
