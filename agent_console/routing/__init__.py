"""Routing: skill queues, longest-idle offers, presence and capacity, transfers, wrap-up, SLAs.

All routing state is in the database; one process at a time runs a routing pass (under the
shared lock), and every verb is a conditional update, so any number of API processes agree."""
