"""Closed vocabularies shared by several domains. Stored as their string values."""

from __future__ import annotations

from enum import StrEnum


class ServiceKind(StrEnum):
    ELECTRIC = "electric"
    WATER = "water"
    GAS = "gas"
    SEWER = "sewer"
    SOLID_WASTE = "solid_waste"
    STORMWATER = "stormwater"


class Channel(StrEnum):
    SMS = "sms"
    WHATSAPP = "whatsapp"
    VOICE = "voice"
    WEBCHAT = "webchat"
    EMAIL = "email"


class Role(StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"
    OPERATIONS = "operations"
    INTEGRATION = "integration"
    SYSTEM = "system"
