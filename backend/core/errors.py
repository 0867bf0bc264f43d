"""Domain errors: raised by services, turned into JSON (API) or messages (pages) in one place."""


class ServiceError(Exception):
    """An operation refused for a reason the user can read (in French, through gettext)."""

    status = 400
    code = "refused"

    def __init__(self, message: str, code: str | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        if status:
            self.status = status


class Conflict(ServiceError):
    status = 409
    code = "conflict"
