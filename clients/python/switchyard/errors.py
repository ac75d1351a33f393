"""Exceptions for Switchyard's error answers: {"error": {"code", "message"}}."""


class SwitchyardError(Exception):
    """Any failed call. `code` is the server's error code (or a client-side one such as
    CONNECTION_ERROR), `status` the HTTP status (0 when no answer came), `request_id` the
    server's X-Request-ID when there was one."""

    def __init__(self, message, code="ERROR", status=0, request_id=None, retry_after=None):
        super().__init__(f"{code}: {message}" + (f" (HTTP {status})" if status else ""))
        self.message = message
        self.code = code
        self.status = status
        self.request_id = request_id
        self.retry_after = retry_after


class InvalidInputError(SwitchyardError):
    """400/413/422 INVALID_INPUT: the request itself is wrong; retrying will not help."""


class UnauthorizedError(SwitchyardError):
    """401/403: missing or wrong API key (or an admin route without the admin key)."""


class ModelNotFoundError(SwitchyardError):
    """404 MODEL_NOT_FOUND (or any 404)."""


class UnavailableError(SwitchyardError):
    """503 MODEL_LOADING / QUEUE_FULL / draining, still failing after the retry budget."""


class BudgetExhaustedError(SwitchyardError):
    """429 BUDGET_EXHAUSTED: a routing budget is spent."""


class UpstreamError(SwitchyardError):
    """502/504: a model failed to load, or an upstream LLM failed."""


class ConnectionError(SwitchyardError):  # noqa: A001 (deliberately mirrors the builtin)
    """The server could not be reached (after the retry budget)."""


def error_for(status, code, message, request_id=None, retry_after=None):
    """The exception class for an HTTP status and error code."""
    if code == "BUDGET_EXHAUSTED":
        cls = BudgetExhaustedError
    elif code == "MODEL_NOT_FOUND" or status == 404:
        cls = ModelNotFoundError
    elif status in (401, 403):
        cls = UnauthorizedError
    elif status in (400, 413, 422):
        cls = InvalidInputError
    elif status == 503:
        cls = UnavailableError
    elif status in (502, 504):
        cls = UpstreamError
    else:
        cls = SwitchyardError
    return cls(message, code=code, status=status, request_id=request_id,
               retry_after=retry_after)
