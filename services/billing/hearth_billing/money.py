"""Money: Decimal amounts in dollars, rounded half-up to cents once per invoice line.

Postgres `round(numeric, 2)` rounds ties away from zero, which is exactly `ROUND_HALF_UP`, so the
set-based close in SQL and the rules written here agree to the cent.
"""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
# Amounts travel in events as at most 14 digits with 2 decimals.
LIMIT = Decimal("1e12")


def to_cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def parse_amount(text: object) -> Decimal:
    """An amount as written in contract data: a string of at most two decimals, never a float
    (a TOML float would already have lost the cents we mean)."""
    if not isinstance(text, str):
        raise ValueError(f'write amounts as strings such as "400.00", not {type(text).__name__}')
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{text!r} is not a decimal amount") from None
    if not amount.is_finite():
        raise ValueError(f"{text!r} is not a finite amount")
    if amount < 0:
        raise ValueError(f"{text} is negative")
    if amount >= LIMIT:
        raise ValueError(f"{text} is too large")
    if amount != amount.quantize(CENT):
        raise ValueError(f"{text} has more than two decimal places")
    return amount.quantize(CENT)
