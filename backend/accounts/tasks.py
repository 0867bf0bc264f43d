from backend import jobs
from backend.accounts import throttle


@jobs.periodic(minutes=60)
def purge_login_failures() -> int:
    return throttle.purge_expired()
