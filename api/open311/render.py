"""Open311 replies in the format the path's suffix names: JSON, or XML with the spec's element
names (a list's items are named by the list's singular), and the spec's error bodies."""
import json
import re
from xml.etree import ElementTree

from starlette.responses import Response

FORMATS = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}
# a list inside an element: its items' element name
ITEMS = {"endpoints": "endpoint", "formats": "format", "attributes": "attribute", "values": "value"}


class Open311Error(Exception):
    """A refusal as the spec words it: an HTTP status and a description."""

    def __init__(self, status: int, description: str):
        super().__init__(description)
        self.status, self.description = status, description


# characters XML 1.0 cannot carry at all (stored text may hold them: only NUL is refused at the gate)
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else NOT_XML.sub("\ufffd", str(value))


def _element(parent: ElementTree.Element, name: str, value) -> None:
    child = ElementTree.SubElement(parent, name)
    if isinstance(value, dict):
        for key, inner in value.items():
            _element(child, key, inner)
    elif isinstance(value, list):
        for inner in value:
            _element(child, ITEMS.get(name, "item"), inner)
    else:
        child.text = _text(value)


def xml(root: str, item: str | None, body) -> bytes:
    """`body` a list (each one `item` under `root`) or a dict (the fields of `root`)."""
    top = ElementTree.Element(root)
    if isinstance(body, list):
        for entry in body:
            _element(top, item, entry)
    else:
        for key, value in body.items():
            _element(top, key, value)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ElementTree.tostring(top, encoding="utf-8",
                                                                            xml_declaration=False)


def render(fmt: str, root: str, item: str | None, body, status: int = 200) -> Response:
    content = (json.dumps(body, ensure_ascii=False).encode("utf-8", "replace") if fmt == "json"
               else xml(root, item, body))
    return Response(content, status, media_type=FORMATS[fmt])


def errors(fmt: str, status: int, description: str) -> Response:
    """`[{"code": …, "description": …}]`, or `<errors><error>…</error></errors>`."""
    return render(fmt if fmt in FORMATS else "json", "errors", "error",
                  [{"code": status, "description": description}], status)
