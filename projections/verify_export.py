"""Recheck a `linli audit export` file with nothing but the standard library.

    python -m projections.verify_export export.jsonl

Each line is one stored event with its chain entry: context, position, originator_id,
version, topic, state (base64 of the stored bytes), prev_hash and hash. Within each context
the lines must chain: every line's prev_hash is the previous line's hash, and its hash is
sha256 over prev_hash, position, originator_id, version, topic (each followed by 0x1f) and
the state bytes. Exit status 0 when every line holds, 1 with the first failure otherwise.
"""
import base64
import hashlib
import json
import sys


def entry_hash(previous: str, position: int, originator_id: str, version: int, topic: str, state: bytes) -> str:
    h = hashlib.sha256()
    for part in (previous, str(position), str(originator_id), str(version), topic):
        h.update(part.encode())
        h.update(b"\x1f")
    h.update(state)
    return h.hexdigest()


def check(lines) -> str | None:
    """None when the export verifies, else a sentence naming the first bad line."""
    last: dict[str, str] = {}
    for number, line in enumerate(lines, start=1):
        try:
            e = json.loads(line)
            state = base64.b64decode(e["state"], validate=True)
            expected = entry_hash(e["prev_hash"], e["position"], e["originator_id"], e["version"], e["topic"], state)
        except (ValueError, KeyError, TypeError) as error:
            return f"line {number}: unreadable entry ({error})"
        if e["context"] in last and e["prev_hash"] != last[e["context"]]:
            return f"line {number}: {e['context']} position {e['position']} does not follow the previous entry"
        if expected != e["hash"]:
            return f"line {number}: {e['context']} position {e['position']} does not match its hash"
        last[e["context"]] = e["hash"]
    return None


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as export:
        problem = check(export)
    print(problem or "export verifies")
    return 1 if problem else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
