"""Linli's demands and service requests as Open311 requests, and their events as FixMyStreet's
request updates: status open/closed, Linli's own state in Chinese as status_notes."""
import re
from datetime import datetime

from api.open311.catalogue import category_code
from api.representations import sla_standing
from api.wiring import Linli

CLOSED = {"rejected", "fulfilled", "closed", "withdrawn", "expired", "not_accepted", "resolved"}
OPEN = {"draft", "pending_review", "open", "filled", "in_progress", "submitted", "returned", "accepted",
        "awaiting_applicant"}
STATES = {"open": OPEN, "closed": CLOSED}
NOTES = {"draft": "草稿", "pending_review": "待审核", "rejected": "审核未通过", "open": "已发布，可认领",
         "filled": "已满员", "in_progress": "进行中", "fulfilled": "已完成", "closed": "已关闭", "withdrawn": "已撤回",
         "expired": "已过期", "submitted": "已提交，待受理", "returned": "退回补正", "accepted": "已受理",
         "not_accepted": "不予受理", "awaiting_applicant": "待企业答复", "resolved": "已办结"}
CHANGES = {"Posted": "需求已创建", "Filed": "诉求已提交", "Revised": "需求已修改", "Submitted": "已提交审核",
           "Approved": "审核通过，已发布", "Rejected": "审核未通过", "Filled": "认领已满员", "Started": "已开始",
           "Fulfilled": "已完成", "Closed": "已关闭", "Withdrawn": "已撤回", "Expired": "已过期",
           "Returned": "退回补正", "Resubmitted": "已补正，重新提交", "Accepted": "已受理", "NotAccepted": "不予受理",
           "Transferred": "已转办", "Paused": "等待企业答复", "Resumed": "企业已答复，继续办理", "Resolved": "已办结",
           "Evaluated": "企业已评价", "SlaWarning": "临近承诺时限", "SlaBreached": "超过承诺时限，已督办"}
REOPENED = {"demand": "名额空出，重新开放认领", "service_request": "企业申请重新办理"}
CLAIMS = {"pending": "待确认", "waitlisted": "候补", "confirmed": "已确认", "declined": "已婉拒", "cancelled": "已取消",
          "checked_in": "已签到", "completed": "已完成", "verified": "已核验", "no_show": "未到场"}


def _status(linli_status: str) -> str:
    return "closed" if linli_status in CLOSED else "open"


def _agency(system: Linli, role: str, agency_id: str) -> str:
    found = system.registry.find(agency_id, "department" if role == "dept" else "organisation")
    return found.name if found is not None else agency_id


def request(system: Linli, row: dict, now: datetime) -> dict:
    demand = row["kind"] == "demand"
    due = None
    if not demand and row["promised_days"] is not None:
        due = sla_standing(row["promised_days"], row["consumed"],
                           datetime.fromisoformat(row["running_since"]) if row["running_since"] else None,
                           bool(row["accepted"]), bool(row["stopped"]), bool(row["warned"]), bool(row["breached"]),
                           now)["due_at"]
    return {"service_request_id": row["id"], "status": _status(row["status"]), "status_notes": NOTES[row["status"]],
            "service_name": row["service_key"] if demand else row["item_title"],
            "service_code": category_code(row["service_key"]) if demand else row["service_key"],
            "description": row["description"], "agency_responsible": _agency(system, row["agency_role"],
                                                                             row["agency_id"]),
            "service_notice": None, "requested_datetime": row["requested_at"], "updated_datetime": row["updated_at"],
            "expected_datetime": due, "address": row["address"], "address_id": row["address_id"], "zipcode": None,
            "lat": row["lat"], "long": row["long"], "media_url": None}


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _describe(row: dict) -> str:
    change = row["change"]
    if change == "ClaimNoted":
        status, _, headcount = (row["detail"] or ":").partition(":")
        return f"认领 {headcount} 人（{CLAIMS.get(status, status)}）"
    if change == "Reopened":
        return REOPENED[row["kind"]]
    return CHANGES.get(change, change)


def update(row: dict) -> dict:
    return {"update_id": row["update_id"], "service_request_id": row["request_id"], "status": _status(row["status"]),
            "updated_datetime": row["updated_at"], "description": _describe(row), "media_url": None,
            "external_status_code": _snake(row["change"])}
