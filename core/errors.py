"""Errors carry their HTTP status (STYLE 11): one base, one handler in the app factory."""

from __future__ import annotations


class DomainError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, **detail: object) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


class NotFound(DomainError):
    status_code = 404
    code = "not_found"


class Conflict(DomainError):
    status_code = 409
    code = "conflict"


class Forbidden(DomainError):
    status_code = 403
    code = "forbidden"


class Unauthorized(DomainError):
    status_code = 401
    code = "unauthorized"


class Invalid(DomainError):
    status_code = 422
    code = "invalid"


class PolicyRefused(Invalid):
    """A policy said no; the message is the reason a customer or agent can read."""

    code = "policy_refused"


class Unavailable(DomainError):
    status_code = 503
    code = "unavailable"
