"""Typed readers for environment variables.

Every setting that an operator may change is read here, through one of these helpers, so that a
bad value stops the process at start-up with a message naming the variable instead of failing
later in a request. Every variable is documented, with its default, in docs/configuration.md.
"""

import os
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation

TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off", ""}


class ConfigurationError(Exception):
    pass


def _raw(name: str) -> str | None:
    value = os.environ.get(name)
    return value.strip() if value is not None else None


def env_str(name: str, default: str = "") -> str:
    value = _raw(name)
    return default if value is None or value == "" else value


def env_bool(name: str, default: bool = False) -> bool:
    value = _raw(name)
    if value is None:
        return default
    if value.lower() in TRUE:
        return True
    if value.lower() in FALSE:
        return False
    raise ConfigurationError(f"{name} must be a boolean (true/false), got {value!r}")


def env_int(name: str, default: int, minimum: int | None = None) -> int:
    value = _raw(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise ConfigurationError(f"{name} must be an integer, got {value!r}") from None
    if minimum is not None and number < minimum:
        raise ConfigurationError(f"{name} must be at least {minimum}, got {number}")
    return number


def env_decimal(name: str, default: str) -> Decimal:
    value = env_str(name, default)
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise ConfigurationError(f"{name} must be a decimal number, got {value!r}") from None
    if number < 0:
        raise ConfigurationError(f"{name} must not be negative, got {number}")
    return number


def env_list(name: str, default: Iterable[str] = ()) -> list[str]:
    value = _raw(name)
    if value is None:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def env_choice(name: str, choices: Iterable[str], default: str) -> str:
    allowed = list(choices)
    value = env_str(name, default)
    if value not in allowed:
        raise ConfigurationError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    return value


def env_rates(name: str) -> dict[str, float]:
    """SENDER=rate pairs separated by commas: {"36180": 30.0, "RONDE": 10.0}."""
    rates = {}
    for item in env_list(name, []):
        sender, _sep, rate = item.partition("=")
        try:
            value = float(rate)
        except ValueError:
            raise ConfigurationError(
                f"{name}: {item!r} is not SENDER=rate (a number per second)"
            ) from None
        if not sender.strip() or value <= 0:
            raise ConfigurationError(f"{name}: {item!r} is not SENDER=rate (a number per second)")
        rates[sender.strip()] = value
    return rates
