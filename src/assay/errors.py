"""Domain errors raised by services; the API maps each class to one HTTP status in one place."""

from __future__ import annotations


class AssayError(Exception):
    """Base of every error a user can cause or see; ``field`` names the input at fault."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFoundError(AssayError):
    """The resource does not exist (or the caller may not know it exists)."""


class InvalidInputError(AssayError):
    """The input is well-formed HTTP but its content is unusable."""


class MalformedInputError(AssayError):
    """The request's body breaks its own format (a multipart body that cannot be parsed)."""


class UnsupportedError(AssayError):
    """The request names something Assay does not offer (an unknown task, format...)."""


class ConflictError(AssayError):
    """The request clashes with the current state (a name already taken...)."""


class TooLargeError(AssayError):
    """The payload exceeds a configured size limit."""


class UnavailableError(AssayError):
    """A service Assay depends on cannot be reached or failed; the state it holds is unknown,
    not lost, and nothing was changed in SQL because of it. ``summary`` names the service in the
    response, so that a 503 says which one to look at."""

    summary = "a service Assay depends on is unavailable"


class StorageError(UnavailableError):
    """The object store failed (unreachable, refused, misconfigured).

    Raised by the store implementations themselves, so it reaches the API untranslated."""

    summary = "object storage failed"


class ServiceNotRunningError(UnavailableError):
    """A project service was asked for through the gateway while it does not run."""

    summary = "the service is not running"


class EngineUnavailableError(UnavailableError):
    """The compute engine (Ray) cannot be reached now."""

    summary = "the compute engine is unreachable"


class AuthenticationError(AssayError):
    """No credentials where they are required, or credentials that are wrong, expired or revoked."""


class PermissionDeniedError(AssayError):
    """The caller may see the resource but the role they hold does not allow this action."""


class TooManyRequestsError(AssayError):
    """The caller tried too often; ``retry_after`` says how many seconds to wait."""

    def __init__(self, message: str, *, retry_after: int, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.retry_after = retry_after
