"""The demo utility: `stormdesk seed` fills a database with a realistic, fictional customer base."""

from core.demo.generator import SeedOptions, SeedReport, has_customers, seed_demo_utility
from core.demo.personas import DEMO_PERSONAS, Persona, account_number

__all__ = [
    "DEMO_PERSONAS",
    "Persona",
    "SeedOptions",
    "SeedReport",
    "account_number",
    "has_customers",
    "seed_demo_utility",
]
