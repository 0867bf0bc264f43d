from django.contrib.auth.hashers import Argon2PasswordHasher


class FastArgon2PasswordHasher(Argon2PasswordHasher):
    """Argon2 at its cheapest cost, for the test suite only (see settings.TESTING)."""

    time_cost = 1
    memory_cost = 8
    parallelism = 1
