"""Chinese words for the wire names: states, triggers, SLA lights, problems and booking rules."""

STATUS = {
    "draft": "草稿", "pending_review": "待审核", "rejected": "已驳回", "open": "已发布", "filled": "已满员",
    "in_progress": "进行中", "fulfilled": "已完成", "closed": "已关闭", "withdrawn": "已撤回", "expired": "已过期",
    "pending": "待确认", "waitlisted": "候补中", "confirmed": "已确认", "declined": "已谢绝", "cancelled": "已取消",
    "checked_in": "已签到", "completed": "已完成服务", "verified": "已核验", "no_show": "未到场",
    "active": "开放中", "suspended": "已暂停", "retired": "已停用", "requested": "待审批",
    "in_review": "审核中", "published": "已发布", "discarded": "已废弃",
    "submitted": "已提交", "returned": "已退回补正", "accepted": "已受理", "not_accepted": "不予受理",
    "awaiting_applicant": "待申请人补充", "resolved": "已办结",
}
TRIGGER = {
    "revise": "修改", "submit": "提交审核", "approve": "审核通过", "reject": "驳回", "start": "开始",
    "fulfil": "完成", "close": "评价并关闭", "withdraw": "撤回", "expire": "过期", "confirm": "确认",
    "waitlist": "列入候补", "decline": "谢绝", "cancel": "取消", "check_in": "签到", "complete": "完成服务",
    "verify": "核验评价", "no_show": "标记未到场", "suspend": "暂停", "resume": "恢复", "retire": "停用",
    "publish": "发布", "return": "退回", "discard": "废弃", "publish_revision": "发布修订",
    "resubmit": "重新提交", "accept": "受理", "not_accept": "不予受理", "transfer": "转办",
    "await_applicant": "等待申请人补充", "respond": "补充答复", "resolve": "办结", "evaluate": "评价",
    "reopen": "重新办理", "fill": "满员", "promote": "候补转正",
}
# Who may fire a transition, as the lifecycle tables name them
PARTY = {"owner": "所属组织", "claimant": "认领人", "requester": "预约人", "provider": "提供方",
         "applicant": "申请人", "handler": "承办部门", "admin": "平台运营", "system": "系统"}
# What a trigger asks for besides the button: (field, label, input type, required)
FIELDS = {
    "reject": [("reason", "驳回理由", "text", True)],
    "withdraw": [("reason", "撤回理由", "text", True)],
    "decline": [("reason", "谢绝理由", "text", True)],
    "return": [("reason", "退回理由", "text", True)],
    "not_accept": [("reason", "不予受理理由", "text", True)],
    "cancel": [("reason", "取消理由", "text", False)],
    "close": [("rating", "评分（1–5）", "number", True), ("feedback", "评价", "text", False)],
    "complete": [("hours", "服务时长（小时）", "number", True)],
    "verify": [("rating", "评分（1–5）", "number", True)],
    "evaluate": [("rating", "评分（1–5）", "number", True)],
    "resolve": [("outcome", "办理结果", "outcome", True), ("note", "办结说明", "text", False)],
    "transfer": [("department_id", "转至部门编号", "text", True)],
}
OUTCOMES = {"approved": "予以支持", "denied": "不予支持", "answered": "已答复"}
SLA = {"on_time": ("green", "按时"), "warning": ("yellow", "预警"), "breached": ("red", "已超时·督办"),
       "paused": ("grey", "已暂停计时"), "stopped": ("done", "已办结·停止计时"), None: ("none", "未受理")}
PROBLEM = {
    "invalid-transition": "当前状态不允许该操作", "guard-failed": "条件不满足", "forbidden": "无权进行该操作",
    "not-found": "记录不存在或无权查看", "capacity-exceeded": "名额已满", "duplicate-claim": "已认领过该需求",
    "stale-version": "记录已被他人修改，请刷新后重试", "slot-taken": "该时段已被预订", "validation": "输入有误",
    "unauthenticated": "请先登录", "busy": "系统繁忙，请稍后重试", "concurrent-update": "记录正被修改，请重试",
}
BOOKING_RULE = {
    "notice": "预约提前量不足", "advance": "超出可提前预约的天数", "open-hours": "不在场地开放时间内",
    "blackout": "场地该时段停用（闭馆）", "capacity": "人数超出场地容量", "one-day": "预约须在同一天内",
}


def problem_words(problem: dict) -> str:
    """A refusal in words: the Chinese reason first, the API's detail after it."""
    slug = str(problem.get("type", "")).rsplit("/", 1)[-1]
    words = BOOKING_RULE.get(problem.get("rule", "")) if slug == "booking-rule" else PROBLEM.get(slug)
    detail = problem.get("detail", "")
    return f"{words}：{detail}" if words else f"操作未成功：{detail}"
