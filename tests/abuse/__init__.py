"""Abuse tests: what an outside party can send to every door, and what must never happen."""
