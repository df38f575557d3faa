"""Outages: customer reports roll up the network into predicted outages that operations confirm."""
