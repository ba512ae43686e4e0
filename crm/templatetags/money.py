"""Money is kept in integer pence; pages show pounds."""

from django import template

register = template.Library()


@register.filter
def pounds(pence) -> str:
    """2450 -> '£24.50'; anything that is not a whole number of pence -> ''."""
    if isinstance(pence, bool) or not isinstance(pence, int):
        return ""
    sign = "-" if pence < 0 else ""
    whole, part = divmod(abs(pence), 100)
    return f"{sign}£{whole:,}.{part:02d}"
