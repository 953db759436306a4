"""ECharts options built from read-model numbers (drawn by the browser with the SVG renderer, so
text stays text); each chart's numbers are also in a table for readers without JavaScript."""

HEADLINE = (("organisations", "组织"), ("members", "党员"), ("demands_published", "发布需求"),
            ("claims", "认领人次"), ("venues_shared", "共享场地"), ("services_shared", "共享服务"),
            ("policy_items", "惠企政策"), ("service_hours", "服务时长（小时）"))
TREND = (("demands_published", "发布需求"), ("claims", "认领人次"), ("service_hours", "服务时长"),
         ("members", "新增党员"))
BREAKDOWN = (("demands_published", "发布需求"), ("claims", "认领人次"), ("venues_shared", "共享场地"))


def trend(by_month: dict) -> dict:
    months = sorted(by_month)
    return {"animation": False, "tooltip": {"trigger": "axis"}, "legend": {"top": 0},
            "grid": {"left": 48, "right": 16, "top": 36, "bottom": 28},
            "xAxis": {"type": "category", "data": months}, "yAxis": {"type": "value"},
            "series": [{"name": label, "type": "line", "data": [by_month[m].get(metric, 0) for m in months]}
                       for metric, label in TREND]}


def bars(breakdown: dict) -> dict:
    keys = sorted(breakdown)
    return {"animation": False, "tooltip": {"trigger": "axis"}, "legend": {"top": 0},
            "grid": {"left": 48, "right": 16, "top": 36, "bottom": 48},
            "xAxis": {"type": "category", "data": keys, "axisLabel": {"interval": 0, "rotate": 30}},
            "yAxis": {"type": "value"},
            "series": [{"name": label, "type": "bar", "data": [breakdown[k].get(metric, 0) for k in keys]}
                       for metric, label in BREAKDOWN]}


def lifecycle(described: dict, state_label, trigger_label) -> dict:
    """A lifecycle as a graph: states on a circle, one arrow per (source, trigger, destination)."""
    links = []
    for t in described["transitions"]:
        for source in t["from"]:
            target = source if t["to"] == "(same)" else t["to"]
            links.append({"source": state_label(source), "target": state_label(target),
                          "label": {"show": True, "formatter": trigger_label(t["trigger"])}})
    return {"animation": False,
            "series": [{"type": "graph", "layout": "circular", "circular": {"rotateLabel": False},
                        "symbolSize": 66, "roam": False, "edgeSymbol": ["none", "arrow"], "edgeSymbolSize": 8,
                        "autoCurveness": True, "label": {"show": True, "fontSize": 12},
                        "edgeLabel": {"fontSize": 10}, "lineStyle": {"opacity": 0.7, "width": 1.2},
                        "data": [{"name": state_label(s)} for s in described["states"]], "links": links}]}
