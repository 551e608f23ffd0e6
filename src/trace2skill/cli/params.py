"""Option types every command shares, so a number or a price is checked the same way everywhere.

Python's `float()` reads `nan`, `inf` and `1e999`; none of them is a score, a budget or a price, and
each used to travel on until something far away broke on it. `FINITE` and its bounded forms refuse
them at the option, and `PRICE` reads `IN/OUT` dollars per million tokens. A refusal is an
InvalidInput naming the option: one `Error:` line and exit 1, like every other bad input.
"""

from __future__ import annotations

import math
from typing import Any

import click

from trace2skill.errors import InvalidInput

__all__ = ["DOLLARS", "FINITE", "PRICE", "PRICE_HELP", "TEMPERATURE", "UNIT_INTERVAL", "Finite", "Price"]


class Finite(click.ParamType):
    """A finite float, optionally within [low, high]."""

    name = "number"

    def __init__(self, low: float | None = None, high: float | None = None) -> None:
        self.low = low
        self.high = high

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        if isinstance(value, float) and math.isfinite(value):
            number = value
        else:
            try:
                number = float(str(value).strip())
            except ValueError:
                raise InvalidInput(f"{_name(param)} {str(value)[:40]!r} is not a number") from None
            if not math.isfinite(number):
                raise InvalidInput(f"{_name(param)} {str(value)[:40]!r} is not a finite number; give one such as 0.5")
        if (self.low is not None and number < self.low) or (self.high is not None and number > self.high):
            raise InvalidInput(f"{_name(param)} {number:g} is outside {self._range()}")
        return number

    def _range(self) -> str:
        if self.high is None:
            return f"the allowed range (at least {self.low:g})"
        if self.low is None:
            return f"the allowed range (at most {self.high:g})"
        return f"{self.low:g} to {self.high:g}"


class Price(click.ParamType):
    """`IN/OUT`: USD per million input and output tokens, e.g. `3/15` or `0.25/2`."""

    name = "IN/OUT"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> tuple[float, float]:
        if isinstance(value, tuple):
            return value
        text = str(value).strip()
        parts = text.split("/")
        if len(parts) != 2:
            raise InvalidInput(f"{_name(param)} {text[:40]!r} is not IN/OUT: give USD per million tokens, e.g. 3/15")
        number = Finite(low=0)
        return (number.convert(parts[0], param, ctx), number.convert(parts[1], param, ctx))


def _name(param: click.Parameter | None) -> str:
    return max(param.opts, key=len) if param is not None and param.opts else "the value"


FINITE = Finite()
UNIT_INTERVAL = Finite(0.0, 1.0)
DOLLARS = Finite(0.0)
TEMPERATURE = Finite(0.0, 2.0)
PRICE = Price()
PRICE_HELP = "USD per million input/output tokens of the model, e.g. 3/15 (needed for a budget on an unpriced model)."
