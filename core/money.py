"""Money is Decimal at every boundary and whole cents in storage (exact sums on SQLite too)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from core.errors import Invalid

CENT = Decimal("0.01")


def to_cents(amount: Decimal | str | int) -> int:
    """Decimal dollars → integer cents; refuses floats and sub-cent precision rather than rounding."""
    if isinstance(amount, float):
        raise Invalid("amounts must be decimal strings, not floats")
    try:
        value = Decimal(amount)
    except (InvalidOperation, TypeError, ValueError) as exc:
        raise Invalid(f"not a decimal amount: {amount!r}") from exc
    if not value.is_finite():
        raise Invalid("amount must be finite")
    if value != value.quantize(CENT):
        raise Invalid("amount has more than two decimal places")
    return int(value * 100)


def from_cents(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(CENT)


def round_cents(value: Decimal) -> Decimal:
    """Round a computed amount (a percentage, a proration) to the cent, half up as billing does."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)
