"""Specs of the service item and service request tables: an item of department dept-a, valid for
30 days, promising 5 working days; a request of enterprise org-e under it, accepted at NOW."""
from datetime import timedelta
from uuid import UUID

from domain import service_item, service_request
from domain.actors import SYSTEM, Actor, Role
from domain.errors import GuardFailedError, ValidationError
from domain.service_item import ServiceItem, check_content
from domain.service_request import ServiceRequest
from tests.domain.spec import NOBODY, NOW, Book, e, given_event

I, R = UUID(int=21), UUID(int=22)
IDS = {ServiceItem: I, ServiceRequest: R}
DEPT, ADMIN = Actor("dept-a", Role.DEPT), Actor("admin", Role.ADMIN)
VALID_TO = NOW + timedelta(days=30)
CONTENT = check_content({"title": "小微企业房租减免", "category": "减免类", "basis": "", "eligibility": "", "materials": "",
                         "mode": "依申请", "promised_days": 5, "valid_to": VALID_TO, "department_id": "dept-a"})

DRAFTED = [given_event(ServiceItem.Drafted, provider_role="dept", provider_id="dept-a", content=CONTENT)]
IN_REVIEW = DRAFTED + [given_event(ServiceItem.Submitted, status="in_review")]
PUBLISHED = IN_REVIEW + [given_event(ServiceItem.Published, status="published")]

ITEM_STATES = {
    "draft": DRAFTED,
    "in_review": IN_REVIEW,
    "published": PUBLISHED,
    "suspended": PUBLISHED + [given_event(ServiceItem.Suspended, status="suspended", reason=None)],
    "retired": PUBLISHED + [given_event(ServiceItem.Retired, status="retired", reason=None)],
    "discarded": DRAFTED + [given_event(ServiceItem.Discarded, status="discarded")],
}


def act(world, subject, trigger, by, now, fields):
    subject.act(trigger, {**fields, "by": by, "now": now})


items = Book(service_item.LIFECYCLE, ServiceItem, IDS,
             {"provider": DEPT, "admin": ADMIN, "system": SYSTEM, NOBODY: Actor("dept-b", Role.DEPT)},
             ITEM_STATES, act)
i = items

i.allowed("submit", "draft", "provider", e("ServiceItem.Submitted", status="in_review"))
i.refused_for("submit", "admin system nobody", "draft")
i.refused_in("submit", "in_review published suspended retired discarded", "provider")

i.allowed("publish", "in_review", "admin", e("ServiceItem.Published", status="published"))
i.refused_for("publish", "provider system nobody", "in_review")
i.refused_in("publish", "draft published suspended retired discarded", "admin")

i.allowed("return", "in_review", "admin", e("ServiceItem.Returned", status="draft", reason="依据不全"), reason="依据不全")
i.refused("return", "in_review", "admin", ValidationError, label="no-reason")
i.refused_for("return", "provider system nobody", "in_review", reason="依据不全")
i.refused_in("return", "draft published suspended retired discarded", "admin", reason="依据不全")

for role in ("provider", "admin"):
    i.allowed("suspend", "published", role, e("ServiceItem.Suspended", status="suspended", reason=None))
    i.allowed("resume", "suspended", role, e("ServiceItem.Resumed", status="published"))
i.refused_for("suspend", "system nobody", "published")
i.refused_in("suspend", "draft in_review suspended retired discarded", "provider")
i.refused_for("resume", "system nobody", "suspended")
i.refused_in("resume", "draft in_review published retired discarded", "provider")

for state in ("published", "suspended"):
    for role in ("provider", "admin"):
        i.allowed("retire", state, role, e("ServiceItem.Retired", status="retired", reason="到期"), reason="到期")
    i.allowed("retire", state, "system", e("ServiceItem.Retired", status="retired", reason=None), now=VALID_TO)
i.refused("retire", "published", "system", GuardFailedError, label="before-valid-to")
i.refused_for("retire", "nobody", "published")
i.refused_in("retire", "draft in_review retired discarded", "provider")

i.allowed("discard", "draft", "provider", e("ServiceItem.Discarded", status="discarded"))
i.refused_for("discard", "admin system nobody", "draft")
i.refused_in("discard", "in_review published suspended retired discarded", "provider")

i.allowed("revise", "published", "provider", e("ServiceItem.RevisionStaged", revision={**CONTENT, "promised_days": 3}),
          promised_days=3)
i.refused("revise", "published", "provider", ValidationError, promised_days=400, label="promised-days-400")
i.refused_for("revise", "admin system nobody", "published", promised_days=3)
i.refused_in("revise", "draft in_review suspended retired discarded", "provider", promised_days=3)

STAGED = PUBLISHED + [given_event(ServiceItem.RevisionStaged, revision={**CONTENT, "promised_days": 3})]
i.allowed("publish_revision", "published", "admin", e("ServiceItem.RevisionPublished", content_version=2),
          given=STAGED)
i.refused("publish_revision", "published", "admin", GuardFailedError, label="nothing-staged")
i.refused_for("publish_revision", "provider system nobody", "published", given=STAGED)
i.refused_in("publish_revision", "draft in_review suspended retired discarded", "admin")


# -- requests: the handler is the item's department; the clock starts at acceptance ------------
FILED = [given_event(ServiceRequest.Filed, item_id=str(I), applicant_id="org-e", handler_role="dept",
                     handler_id="dept-a", subject="租金减免", detail="去年营收下降", promised_days=5,
                     location=None)]
ACCEPTED = FILED + [given_event(ServiceRequest.Accepted, status="accepted", at=NOW)]
IN_PROGRESS = ACCEPTED + [given_event(ServiceRequest.Started, status="in_progress")]
RESOLVED = IN_PROGRESS + [given_event(ServiceRequest.Resolved, status="resolved", outcome="approved", note=None,
                                      consumed=0.0)]
EVALUATED = dict(status="closed", feedback=None, at=NOW)

REQUEST_STATES = {
    "submitted": FILED,
    "returned": FILED + [given_event(ServiceRequest.Returned, status="returned", reason="材料不全")],
    "accepted": ACCEPTED,
    "not_accepted": FILED + [given_event(ServiceRequest.NotAccepted, status="not_accepted", reason="不属本部门")],
    "in_progress": IN_PROGRESS,
    "awaiting_applicant": IN_PROGRESS + [given_event(ServiceRequest.Paused, status="awaiting_applicant",
                                                     consumed=0.0, reason="补充材料")],
    "resolved": RESOLVED,
    "closed": RESOLVED + [given_event(ServiceRequest.Evaluated, rating=2, **EVALUATED)],
    "withdrawn": FILED + [given_event(ServiceRequest.Withdrawn, status="withdrawn", consumed=0.0, reason=None)],
}

requests = Book(service_request.LIFECYCLE, ServiceRequest, IDS,
                {"handler": DEPT, "applicant": Actor("org-e", Role.ORG), "admin": ADMIN, "system": SYSTEM,
                 NOBODY: Actor("org-f", Role.ORG)},
                REQUEST_STATES, act)
r = requests


r.allowed("return", "submitted", "handler", e("ServiceRequest.Returned", status="returned", reason="材料不全"),
          reason="材料不全")
r.refused("return", "submitted", "handler", ValidationError, label="no-reason")
r.refused_for("return", "applicant admin system nobody", "submitted", reason="材料不全")
r.refused_in("return", "returned accepted not_accepted in_progress awaiting_applicant resolved closed withdrawn",
             "handler", reason="材料不全")

r.allowed("resubmit", "returned", "applicant", e("ServiceRequest.Resubmitted", status="submitted", detail="补齐了"),
          detail="补齐了")
r.allowed("resubmit", "returned", "applicant", e("ServiceRequest.Resubmitted", status="submitted", detail="去年营收下降"),
          label="detail-kept")
r.refused_for("resubmit", "handler admin system nobody", "returned")
r.refused_in("resubmit", "submitted accepted not_accepted in_progress awaiting_applicant resolved closed withdrawn",
             "applicant")

r.allowed("accept", "submitted", "handler", e("ServiceRequest.Accepted", status="accepted", at=NOW))
r.refused_for("accept", "applicant admin system nobody", "submitted")
r.refused_in("accept", "returned accepted not_accepted in_progress awaiting_applicant resolved closed withdrawn",
             "handler")

r.allowed("not_accept", "submitted", "handler",
          e("ServiceRequest.NotAccepted", status="not_accepted", reason="不属本部门"), reason="不属本部门")
r.refused_for("not_accept", "applicant admin system nobody", "submitted", reason="不属本部门")
r.refused_in("not_accept", "returned accepted not_accepted in_progress awaiting_applicant resolved closed withdrawn",
             "handler", reason="不属本部门")

for state in ("submitted", "accepted", "in_progress"):
    for role in ("handler", "admin"):
        r.allowed("transfer", state, role, e("ServiceRequest.Transferred", department_id="dept-b", reason=None),
                  department_id="dept-b")
r.refused("transfer", "submitted", "handler", ValidationError, department_id="dept-a", label="same-department")
r.refused("transfer", "submitted", "handler", ValidationError, label="no-department")
r.refused_for("transfer", "applicant system nobody", "submitted", department_id="dept-b")
r.refused_in("transfer", "returned not_accepted awaiting_applicant resolved closed withdrawn", "handler",
             department_id="dept-b")

r.allowed("start", "accepted", "handler", e("ServiceRequest.Started", status="in_progress"))
r.refused_for("start", "applicant admin system nobody", "accepted")
r.refused_in("start", "submitted returned not_accepted in_progress awaiting_applicant resolved closed withdrawn",
             "handler")

r.allowed("await_applicant", "in_progress", "handler",
          e("ServiceRequest.Paused", status="awaiting_applicant", consumed=0.0, reason="补充材料"), reason="补充材料")
r.refused_for("await_applicant", "applicant admin system nobody", "in_progress")
r.refused_in("await_applicant", "submitted returned accepted not_accepted awaiting_applicant resolved closed withdrawn",
             "handler")

r.allowed("respond", "awaiting_applicant", "applicant", e("ServiceRequest.Resumed", status="in_progress", at=NOW))
r.refused_for("respond", "handler admin system nobody", "awaiting_applicant")
r.refused_in("respond", "submitted returned accepted not_accepted in_progress resolved closed withdrawn",
             "applicant")

for state in ("accepted", "in_progress"):
    r.allowed("resolve", state, "handler",
              e("ServiceRequest.Resolved", status="resolved", outcome="approved", note="已办结", consumed=0.0),
              outcome="approved", note="已办结")
r.refused("resolve", "in_progress", "handler", ValidationError, outcome="maybe", label="unknown-outcome")
r.refused_for("resolve", "applicant admin system nobody", "in_progress", outcome="approved")
r.refused_in("resolve", "submitted returned not_accepted awaiting_applicant resolved closed withdrawn", "handler",
             outcome="approved")

r.allowed("evaluate", "resolved", "applicant", e("ServiceRequest.Evaluated", rating=4, **EVALUATED), rating=4)
r.refused("evaluate", "resolved", "applicant", ValidationError, rating=9, label="rating-9")
r.refused_for("evaluate", "handler admin system nobody", "resolved", rating=4)
r.refused_in("evaluate", "submitted returned accepted not_accepted in_progress awaiting_applicant closed withdrawn",
             "applicant", rating=4)

r.allowed("reopen", "closed", "applicant", e("ServiceRequest.Reopened", status="in_progress", at=NOW, reason="没解决"),
          reason="没解决")
r.refused("reopen", "closed", "applicant", GuardFailedError, label="rated-3",
          given=RESOLVED + [given_event(ServiceRequest.Evaluated, rating=3, **EVALUATED)])
r.refused("reopen", "closed", "applicant", GuardFailedError, now=NOW + timedelta(days=7, seconds=1),
          label="after-7-days")
r.refused_for("reopen", "handler admin system nobody", "closed")
r.refused_in("reopen", "submitted returned accepted not_accepted in_progress awaiting_applicant resolved withdrawn",
             "applicant")

for state in ("submitted", "returned", "accepted", "in_progress", "awaiting_applicant"):
    r.allowed("withdraw", state, "applicant",
              e("ServiceRequest.Withdrawn", status="withdrawn", consumed=0.0, reason=None))
r.refused_for("withdraw", "handler admin system nobody", "submitted")
r.refused_in("withdraw", "not_accepted resolved closed withdrawn", "applicant")
