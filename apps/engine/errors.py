"""Error classes of DESIGN §5 and which of them the engine may retry."""

from __future__ import annotations


class ErrorClass:
    TIMEOUT = "Timeout"
    HOST_UNREACHABLE = "HostUnreachable"
    WORKER_LOST = "WorkerLost"
    HTTP503 = "HTTP503"
    HTTP504 = "HTTP504"
    NON_ZERO_EXIT = "NonZeroExit"
    CANARY_FAILED = "CanaryFailed"
    NOTIFICATION_FAILED = "NotificationFailed"
    CONFIG_ERROR = "ConfigError"
    PERMISSION_DENIED = "PermissionDenied"
    NOT_FOUND = "NotFound"
    TEMPLATE_ERROR = "TemplateError"
    REJECTED = "Rejected"
    DIFF_CHANGED = "DiffChanged"
    CHILD_FAILED = "ChildFailed"
    BRANCH_FAILED = "BranchFailed"
    HOST_KEY_UNKNOWN = "HostKeyUnknown"
    HOST_KEY_MISMATCH = "HostKeyMismatch"
    AUTH_FAILED = "AuthFailed"


# Auto-retried (retry_count) and manually retryable.
TRANSIENT = frozenset(
    {ErrorClass.TIMEOUT, ErrorClass.HOST_UNREACHABLE, ErrorClass.WORKER_LOST, ErrorClass.HTTP503, ErrorClass.HTTP504}
)
# Retryable by hand only (NonZeroExit is auto-retried only for listed exit codes).
MANUAL_ONLY = frozenset(
    {
        ErrorClass.NON_ZERO_EXIT,
        ErrorClass.CANARY_FAILED,
        ErrorClass.NOTIFICATION_FAILED,
        ErrorClass.CHILD_FAILED,
        ErrorClass.BRANCH_FAILED,
        ErrorClass.HOST_KEY_UNKNOWN,  # once an operator trusted the key
    }
)
# Fail closed: fix the cause and start a new run.
NEVER_RETRIED = frozenset(
    {
        ErrorClass.CONFIG_ERROR,
        ErrorClass.PERMISSION_DENIED,
        ErrorClass.NOT_FOUND,
        ErrorClass.TEMPLATE_ERROR,
        ErrorClass.REJECTED,
        ErrorClass.DIFF_CHANGED,
        ErrorClass.HOST_KEY_MISMATCH,
        ErrorClass.AUTH_FAILED,
    }
)


def is_manually_retryable(error_class: str) -> bool:
    return error_class in TRANSIENT or error_class in MANUAL_ONLY


def should_auto_retry(*, error_class: str, exit_code: int | None, retry_on_exit_codes: list[int] | None) -> bool:
    if error_class in TRANSIENT:
        return True
    if error_class != ErrorClass.NON_ZERO_EXIT or exit_code is None:
        return False
    return exit_code in (retry_on_exit_codes or [])
