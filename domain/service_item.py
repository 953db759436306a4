"""Service items (服务事项): a department's policy item of the joint-action list (惠企政策), or a
service an organisation shares (服务共享).

A published item's content stays live and unchanged while a revision is staged; only
`publish_revision` replaces it, and every published content version is kept.
"""
from datetime import UTC, datetime
from uuid import UUID

from eventsourcing.domain import event

from domain import bounds
from domain.actors import Actor, Role
from domain.base import Record, base_relations, require_reason
from domain.errors import ForbiddenError, ValidationError
from domain.lifecycle import Lifecycle, row

CATEGORIES = ("减免类", "奖补类", "权益类", "资质类", "咨询类", "其他")
MODES = ("免申即享", "快申快享", "依申请")
PUBLIC_STATES = ("published", "suspended", "retired")  # listed and read by anyone; the rest by provider and staff
CONTENT_FIELDS = ("title", "category", "basis", "eligibility", "materials", "mode", "promised_days", "valid_from",
                  "valid_to", "department_id", "co_department_ids")

# trigger             from                         to            who
LIFECYCLE = Lifecycle("service_item", ["draft", "in_review", "published", "suspended", "retired", "discarded"], [
    row("submit",           "draft",                      "in_review", {"provider"}),
    row("publish",          "in_review",                  "published", {"admin"}),
    row("return",           "in_review",                  "draft",     {"admin"}),
    row("suspend",          "published",                  "suspended", {"provider", "admin"}),
    row("resume",           "suspended",                  "published", {"provider", "admin"}),
    row("retire",           ["published", "suspended"],   "retired",   {"provider", "admin", "system"}),
    row("discard",          "draft",                      "discarded", {"provider"}),
    row("revise",           "published",                  None,        {"provider"}),
    row("publish_revision", "published",                  None,        {"admin"}),
])


def relations(actor: Actor, provider_role: str, provider_id: str) -> set[str]:
    """The provider is the publishing department's officers, or the sharing organisation."""
    found = base_relations(actor)
    if actor.role.value == provider_role and actor.id == provider_id:
        found.add("provider")
    return found


def check_content(content: dict) -> dict:
    """Validate a full content dict and return it with datetimes as UTC ISO strings."""
    text = {"title": 200, "basis": 5000, "eligibility": 5000, "materials": 5000}
    for field, limit in text.items():
        value = content.get(field)
        if not isinstance(value, str) or len(value) > limit or (field == "title" and not value.strip()):
            raise ValidationError(f"{field} must be text of at most {limit} characters")
    if content.get("category") not in CATEGORIES:
        raise ValidationError(f"category must be one of {', '.join(CATEGORIES)}")
    if content.get("mode") not in MODES:
        raise ValidationError(f"mode must be one of {', '.join(MODES)}")
    days = content.get("promised_days")
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 365:
        raise ValidationError("promised_days must be an integer from 1 to 365")
    valid_from, valid_to = content.get("valid_from"), content.get("valid_to")
    for name, value in (("valid_from", valid_from), ("valid_to", valid_to)):
        if value is not None:
            bounds.instant(value, name)
    if valid_from and valid_to and not valid_from < valid_to:
        raise ValidationError("valid_from must be before valid_to")
    co = content.get("co_department_ids") or []
    if not isinstance(co, list) or not all(isinstance(c, str) for c in co):
        raise ValidationError("co_department_ids must be a list of department ids")
    return {**{k: content.get(k) for k in CONTENT_FIELDS}, "title": content["title"].strip(), "co_department_ids": co,
            "valid_from": valid_from.astimezone(UTC).isoformat() if valid_from else None,
            "valid_to": valid_to.astimezone(UTC).isoformat() if valid_to else None}


class ServiceItem(Record):
    lifecycle = LIFECYCLE

    @staticmethod
    def draft(id: UUID, by: Actor, content: dict) -> "ServiceItem":
        if by.role is Role.DEPT:
            provider_role, provider_id = "dept", by.id
            content = {**content, "department_id": content.get("department_id") or by.id}
            if content["department_id"] != by.id:
                raise ValidationError("a department publishes items under its own department_id")
        elif by.role is Role.ORG:
            provider_role, provider_id = "org", by.id
            content = {**content, "department_id": None}
        else:
            raise ForbiddenError("items are drafted by departments and organisations")
        return ServiceItem(id=id, provider_role=provider_role, provider_id=provider_id, content=check_content(content))

    class Drafted(Record.Created):
        provider_role: str
        provider_id: str
        content: dict

    @event(Drafted)
    def __init__(self, id: UUID, provider_role: str, provider_id: str, content: dict):
        self.provider_role, self.provider_id = provider_role, provider_id
        self.content, self.content_version = content, 0
        self.versions: list[dict] = []
        self.staged: dict | None = None
        self.status, self.reason = "draft", None

    def relations(self, actor: Actor) -> set[str]:
        return relations(actor, self.provider_role, self.provider_id)

    @property
    def valid_to(self) -> datetime | None:
        value = self.content.get("valid_to")
        return datetime.fromisoformat(value) if value else None

    # -- commands -----------------------------------------------------------------------------
    def submit(self, by: Actor) -> None:
        self.trigger_event(self.Submitted, status=self._decide("submit", by))

    def publish(self, by: Actor) -> None:
        self._published(status=self._decide("publish", by))

    def return_(self, by: Actor, reason: str | None = None) -> None:
        status = self._decide("return", by)
        self.trigger_event(self.Returned, status=status, reason=require_reason(reason))

    def suspend(self, by: Actor, reason: str | None = None) -> None:
        self.trigger_event(self.Suspended, status=self._decide("suspend", by), reason=reason)

    def resume(self, by: Actor) -> None:
        self.trigger_event(self.Resumed, status=self._decide("resume", by))

    def retire(self, by: Actor, now: datetime, reason: str | None = None) -> None:
        status = self._decide("retire", by)
        if by.role is Role.SYSTEM:
            self._guard(self.valid_to is not None and now >= self.valid_to, "retire", by,
                        "the system retires an item at its valid_to")
        self.trigger_event(self.Retired, status=status, reason=reason)

    def discard(self, by: Actor) -> None:
        self.trigger_event(self.Discarded, status=self._decide("discard", by))

    def revise(self, by: Actor, **changes) -> None:
        """Stage a revision of the live content; what is served stays unchanged."""
        self._decide("revise", by)
        base = {k: v for k, v in (self.staged or self.content).items()}
        for name in ("valid_from", "valid_to"):
            base[name] = datetime.fromisoformat(base[name]) if base.get(name) else None
        merged = {**base, **{k: v for k, v in changes.items() if k in CONTENT_FIELDS and v is not None}}
        merged["department_id"] = self.content.get("department_id")  # the provider does not change
        self._revision_staged(revision=check_content(merged))

    def publish_revision(self, by: Actor) -> None:
        self._decide("publish_revision", by)
        self._guard(self.staged is not None, "publish_revision", by, "there is no staged revision to publish")
        self._revision_published(content_version=self.content_version + 1)

    # -- events -------------------------------------------------------------------------------
    class Submitted(Record.Cleared):
        pass

    class Returned(Record.Reasoned):
        pass

    class Suspended(Record.Reasoned):
        pass

    class Resumed(Record.Cleared):
        pass

    class Retired(Record.Reasoned):
        pass

    class Discarded(Record.Cleared):
        pass

    class Published(Record.Event):
        status: str

    @event(Published)
    def _published(self, status: str) -> None:
        self.status, self.reason, self.content_version = status, None, 1
        self.versions.append(dict(self.content))

    class RevisionStaged(Record.Event):
        revision: dict

    @event(RevisionStaged)
    def _revision_staged(self, revision: dict) -> None:
        self.staged = revision

    class RevisionPublished(Record.Event):
        content_version: int

    @event(RevisionPublished)
    def _revision_published(self, content_version: int) -> None:
        self.content, self.staged, self.content_version = self.staged, None, content_version
        self.versions.append(dict(self.content))
