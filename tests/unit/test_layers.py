"""The layers keep their places (docs/architecture.md): SQL lives next to its DDL in projections/,
routes hold no rules, read-your-writes is the engine's after-commit hook, workflows never import
projections, and every rule the domain refuses with is an error of domain/errors.py."""
import ast
import re
from pathlib import Path

import domain.errors
from domain.errors import DomainError

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("api", "domain", "workflows", "projections")
SQL = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE)\b|\.rows\(|\.execute\(")
VISIBILITY = re.compile(r"visible_to|sees_every_demand|\bparty\(|\bstaff\(|member_reader|reads_all|PUBLIC_STATES")


def sources(*folders: str) -> dict[str, str]:
    return {str(p.relative_to(ROOT)): p.read_text() for folder in folders for p in sorted((ROOT / folder).rglob("*.py"))}


def test_no_sql_in_the_routes():
    assert {path for path, text in sources("api/routes").items() if SQL.search(text)} == set()


def test_routes_parse_call_and_represent_in_six_lines_at_most():
    long = {}
    for path, text in sources("api/routes").items():
        for node in ast.parse(text).body:
            routed = isinstance(node, ast.FunctionDef) and any(
                isinstance(d, ast.Call) and getattr(d.func, "attr", "") in ("get", "post", "put", "patch", "delete")
                for d in node.decorator_list)
            if routed:
                body = node.body[1:] if isinstance(node.body[0], ast.Expr) else node.body  # past the docstring
                if body[-1].end_lineno - body[0].lineno + 1 > 6:
                    long[f"{path}:{node.name}"] = body[-1].end_lineno - body[0].lineno + 1
    assert long == {}


def test_no_visibility_rule_in_the_api():
    assert {path for path, text in sources("api").items() if VISIBILITY.search(text)} == set()


def test_catch_up_is_called_only_by_the_projector_the_worker_and_the_wiring_hook():
    callers = {path for path, text in sources(*PRODUCT).items() if ".catch_up(" in text}
    assert callers <= {"projections/projector.py", "projections/worker.py", "api/wiring.py"}


def test_workflows_never_import_projections_and_the_domain_imports_only_itself():
    def imported(text: str) -> set[str]:
        found = set()
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ImportFrom) and node.module:
                found.add(node.module.split(".")[0])
            elif isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
        return found

    assert {p for p, text in sources("workflows").items() if {"projections", "api"} & imported(text)} == set()
    assert {p for p, text in sources("domain").items() if {"workflows", "projections", "api"} & imported(text)} == set()


def test_every_domain_error_is_declared_in_domain_errors():
    def subclasses(cls: type) -> set[type]:
        return {sub for direct in cls.__subclasses__() for sub in {direct, *subclasses(direct)}}

    import api.app  # noqa: F401 - every module that could declare one is loaded
    assert {cls.__module__ for cls in subclasses(DomainError)} == {domain.errors.__name__}
