"""Open311 services: one per published service item (code: the item's id) and one per demand
category (code: a short ASCII name, `demand-<hash>` for categories it does not know), and what
a request of each needs (its attributes)."""
import hashlib
from dataclasses import dataclass

from api.open311.render import Open311Error
from api.wiring import Linli
from domain.errors import NotFoundError
from domain.service_item import ServiceItem
from projections.demand_board import public_categories
from projections.services import published_items

DEMAND_GROUP = "邻里需求"
# the platform's usual demand categories, offered even before a demand of theirs is on the board
KNOWN = {"elderly-care": "助老服务", "environment": "环境整治", "civility": "文明宣传", "legal-advice": "法律咨询",
         "employment": "就业帮扶", "free-clinic": "医疗义诊", "child-care": "儿童关爱", "culture-sports": "文体活动"}
CODES = {category: code for code, category in KNOWN.items()}


def category_code(category: str) -> str:
    return CODES.get(category) or "demand-" + hashlib.sha256(category.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Service:
    """What a code names: a published item (`item`), or a demand category (`category`)."""

    code: str
    item: ServiceItem | None = None
    category: str | None = None


def _attribute(order: int, code: str, datatype: str, required: bool, description: str, hint: str) -> dict:
    return {"variable": True, "code": code, "datatype": datatype, "required": required,
            "datatype_description": hint, "order": order, "description": description, "values": []}


ITEM_ATTRIBUTES = [_attribute(1, "subject", "string", True, "诉求事项（一句话）", "1 to 200 characters")]
DEMAND_ATTRIBUTES = [
    _attribute(1, "title", "string", False, "需求标题（默认取服务名称）", "1 to 200 characters"),
    _attribute(2, "needed", "number", True, "需要人数", "a whole number from 1 to 10000"),
    _attribute(3, "starts_at", "datetime", True, "活动开始时间", "ISO 8601 with an offset, e.g. 2026-12-21T09:00:00+08:00"),
    _attribute(4, "ends_at", "datetime", True, "活动结束时间", "ISO 8601 with an offset, after starts_at"),
    _attribute(5, "claim_deadline", "datetime", False, "认领截止时间（默认为开始时间）",
               "ISO 8601 with an offset, not after starts_at"),
    _attribute(6, "grid_id", "string", False, "所属网格（默认为本组织的网格）", "a registered grid's id"),
]


def _provider_name(system: Linli, role: str, provider_id: str) -> str:
    kind = "department" if role == "dept" else "organisation"
    found = system.registry.find(provider_id, kind)
    return found.name if found is not None else provider_id


def services(system: Linli) -> list[dict]:
    listed = []
    for row in published_items(system.db):
        provider = row["department_id"] or row["provider_id"]
        role = "dept" if row["department_id"] else row["provider_role"]
        listed.append({"service_code": row["id"], "service_name": row["title"],
                       "description": f"{row['category']}·{row['mode']}·承诺时限 {row['promised_days']} 个工作日",
                       "metadata": True, "type": "realtime", "keywords": f"{row['category']},{row['mode']}",
                       "group": _provider_name(system, role, provider)})
    for category in sorted(set(KNOWN.values()) | set(public_categories(system.db))):
        listed.append({"service_code": category_code(category), "service_name": category,
                       "description": f"发布“{category}”类邻里需求，平台审核后在需求大厅公开认领",
                       "metadata": True, "type": "realtime", "keywords": category, "group": DEMAND_GROUP})
    return listed


def service(system: Linli, code: str) -> Service:
    """The service a code names, or 404."""
    if "\x00" in code:
        raise Open311Error(404, "service_code was not found")
    if code in KNOWN:
        return Service(code, category=KNOWN[code])
    if code.startswith("demand-"):
        for category in public_categories(system.db):
            if category_code(category) == code:
                return Service(code, category=category)
    else:
        try:
            item = system.services.get(code, ServiceItem)
        except NotFoundError:  # also for a code that is no id
            item = None
        if item is not None and item.status == "published":
            return Service(code, item=item)
    raise Open311Error(404, f"service_code {code} was not found")


def definition(found: Service) -> dict:
    return {"service_code": found.code, "attributes": ITEM_ATTRIBUTES if found.item else DEMAND_ATTRIBUTES}


def keys(system: Linli, codes: list[str]) -> list[str]:
    """What the requests table keys services by (item ids, demand categories), for a query's codes;
    an item's code still finds its requests once the item is retired."""
    public = {category_code(c): c for c in public_categories(system.db)} if any(
        c.startswith("demand-") for c in codes) else {}
    return [KNOWN.get(code) or public.get(code) or code for code in codes]
