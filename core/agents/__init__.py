"""Agents, their presence, and the routing records the console keeps in the database."""
