from datetime import datetime

from backend import jobs
from backend.accounts import lifecycle, throttle


@jobs.periodic(minutes=60)
def purge_login_failures() -> int:
    return throttle.purge_expired()


@jobs.periodic(minutes=24 * 60)
def tenant_accounts_lifecycle(now: str | None = None) -> dict:
    """Departures, deactivations, anonymisations, inactive accounts (docs/tenants.md)."""
    return lifecycle.run_accounts(datetime.fromisoformat(now) if now else None)


@jobs.periodic(minutes=24 * 60)
def personal_data_retention(now: str | None = None) -> dict:
    """Households, requests and accounting documents past their retention (docs/tenants.md)."""
    return lifecycle.run_retention(datetime.fromisoformat(now) if now else None)
