"""Domain errors. The API maps each to one HTTP problem type in one place (api/errors.py)."""


class DomainError(Exception):
    """Base of every rule the domain refuses."""


class TransitionNotAllowedError(DomainError):
    def __init__(self, current: str, trigger: str, allowed: list[str]):
        super().__init__(f"cannot {trigger} from {current}")
        self.current, self.trigger, self.allowed = current, trigger, allowed


class ForbiddenError(DomainError):
    """The actor's role or relation to the aggregate does not permit this."""


class GuardFailedError(DomainError):
    """The transition exists from this state, but a precondition of its table row does not hold."""

    def __init__(self, current: str, trigger: str, detail: str, allowed: list[str]):
        super().__init__(detail)
        self.current, self.trigger, self.allowed = current, trigger, allowed


class ValidationError(DomainError):
    """Arguments that break a rule of the command (rating out of range, hours > 24, ...)."""


class CapacityExceededError(DomainError):
    pass


class DuplicateClaimError(DomainError):
    pass


class NotFoundError(DomainError):
    pass


class BookingRuleError(DomainError):
    """A booking breaks one of the venue's rules; `rule` names it for the caller."""

    def __init__(self, rule: str, detail: str):
        super().__init__(detail)
        self.rule = rule


class SlotTakenError(DomainError):
    """Another confirmed booking holds part of that time on the venue's day."""


class ConcurrencyError(DomainError):
    """The aggregate kept changing under us for every attempt."""


class OverloadedError(DomainError):
    """Too many commands are waiting on this record in this process; try again shortly."""


class Unauthenticated(DomainError):
    """No token, or one we do not know, or one expired or revoked."""


class StaleVersionError(DomainError):
    """If-Match named a version that is no longer current."""

    def __init__(self, expected: int, actual: int):
        super().__init__(f"expected version {expected}, current version is {actual}")
        self.expected, self.actual = expected, actual
