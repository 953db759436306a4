"""Recheck a `linli audit export` file with nothing but the standard library.

    python -m projections.verify_export export.jsonl [--public-key audit-key.pub.pem]

Each line is one stored event with its chain entry (context, position, originator_id,
version, topic, state as base64 of the stored bytes, prev_hash, hash), or a signed checkpoint
(`{"checkpoint": {...}}`) right after the entry it signs. Within each context the entries must
chain: every prev_hash is the previous entry's hash, and the hash is sha256 over prev_hash,
position, originator_id, version, topic (each followed by 0x1f) and the state bytes. Each
checkpoint's head is the entry it follows, its hash is sha256 over its canonical JSON, it
follows the previous checkpoint, counts the entries since it, and (given the public key) its
Ed25519 signature holds. Exit status 0 when every line holds, 1 with the first failure otherwise.
"""
import base64
import hashlib
import json
import sys

SIGNED = ("format", "context", "seq", "previous", "position", "head", "events", "every_events", "every_seconds")
SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")  # DER of an Ed25519 SubjectPublicKeyInfo, before the key

# Ed25519 verification after RFC 8032 §5.1.7 (points in extended coordinates)
P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, P - 2, P) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)


def _recover_x(y: int, sign: int) -> int | None:
    if y >= P:
        return None
    x2 = (y * y - 1) * pow(D * y * y + 1, P - 2, P)
    if x2 % P == 0:
        return None if sign else 0
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P:
        x = x * SQRT_M1 % P
    if (x * x - x2) % P:
        return None
    return P - x if (x & 1) != sign else x


def _add(a: tuple, b: tuple) -> tuple:
    e1, f1 = (a[1] - a[0]) * (b[1] - b[0]) % P, (a[1] + a[0]) * (b[1] + b[0]) % P
    c, d = 2 * a[3] * b[3] * D % P, 2 * a[2] * b[2] % P
    e, f, g, h = f1 - e1, d - c, d + c, f1 + e1
    return e * f % P, g * h % P, f * g % P, e * h % P


def _times(s: int, point: tuple) -> tuple:
    result = (0, 1, 1, 0)
    while s:
        if s & 1:
            result = _add(result, point)
        point, s = _add(point, point), s >> 1
    return result


def _point(encoded: bytes) -> tuple | None:
    y = int.from_bytes(encoded, "little")
    x = _recover_x(y & ((1 << 255) - 1), y >> 255)
    return None if x is None else (x, y & ((1 << 255) - 1), 1, x * (y & ((1 << 255) - 1)) % P)


_GY = 4 * pow(5, P - 2, P) % P
BASE = (_recover_x(_GY, 0), _GY, 1, _recover_x(_GY, 0) * _GY % P)


def ed25519_verify(public: bytes, message: bytes, signature: bytes) -> bool:
    if len(public) != 32 or len(signature) != 64:
        return False
    a, r = _point(public), _point(signature[:32])
    s = int.from_bytes(signature[32:], "little")
    if a is None or r is None or s >= L:
        return False
    h = int.from_bytes(hashlib.sha512(signature[:32] + public + message).digest(), "little") % L
    left, right = _times(s, BASE), _add(r, _times(h, a))
    same_x = (left[0] * right[2] - right[0] * left[2]) % P == 0
    return same_x and (left[1] * right[2] - right[1] * left[2]) % P == 0


def public_key(pem: str) -> bytes:
    body = "".join(line for line in pem.splitlines() if line and not line.startswith("-----"))
    der = base64.b64decode(body)
    if len(der) != 44 or not der.startswith(SPKI_PREFIX):
        raise ValueError("not an Ed25519 public key in PEM")
    return der[len(SPKI_PREFIX):]


def entry_hash(previous: str, position: int, originator_id: str, version: int, topic: str, state: bytes) -> str:
    h = hashlib.sha256()
    for part in (previous, str(position), str(originator_id), str(version), topic):
        h.update(part.encode())
        h.update(b"\x1f")
    h.update(state)
    return h.hexdigest()


def _checkpoint_problem(cp: dict, key: bytes | None, last_entry: dict | None, last_cp: dict | None,
                        entries_since: int) -> str | None:
    payload = json.dumps({k: cp[k] for k in SIGNED}, sort_keys=True, separators=(",", ":")).encode()
    if hashlib.sha256(payload).hexdigest() != cp["hash"]:
        return "does not match its hash"
    if key is not None and not ed25519_verify(key, payload, bytes.fromhex(cp["signature"])):
        return "is badly signed"
    if last_entry is None or last_entry["position"] != cp["position"] or last_entry["hash"] != cp["head"]:
        return "does not sign the entry it follows"
    if last_cp is not None and last_cp["seq"] + 1 == cp["seq"]:
        if cp["previous"] != last_cp["hash"]:
            return "does not follow the previous checkpoint"
        if cp["events"] - last_cp["events"] != entries_since:
            return (f"counts {cp['events'] - last_cp['events']} events since the previous one; "
                    f"the export holds {entries_since}")
    elif last_cp is not None:
        return f"follows checkpoint {last_cp['seq']} (checkpoints between are missing)"
    return None


def check(lines, key: bytes | None = None) -> str | None:
    """None when the export verifies, else a sentence naming the first bad line."""
    last: dict[str, dict] = {}
    last_cp: dict[str, dict] = {}
    since: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        try:
            e = json.loads(line)
            if "checkpoint" in e:
                cp = e["checkpoint"]
                problem = _checkpoint_problem(cp, key, last.get(cp["context"]), last_cp.get(cp["context"]),
                                              since.get(cp["context"], 0))
                if problem:
                    return f"line {number}: {cp['context']} checkpoint {cp['seq']} {problem}"
                last_cp[cp["context"]], since[cp["context"]] = cp, 0
                continue
            state = base64.b64decode(e["state"], validate=True)
            expected = entry_hash(e["prev_hash"], e["position"], e["originator_id"], e["version"], e["topic"], state)
        except (ValueError, KeyError, TypeError) as error:
            return f"line {number}: unreadable entry ({error})"
        if e["context"] in last and e["prev_hash"] != last[e["context"]]["hash"]:
            return f"line {number}: {e['context']} position {e['position']} does not follow the previous entry"
        if expected != e["hash"]:
            return f"line {number}: {e['context']} position {e['position']} does not match its hash"
        last[e["context"]] = e
        since[e["context"]] = since.get(e["context"], 0) + 1
    return None


def main(argv: list[str]) -> int:
    args = argv[1:]
    key = None
    if len(args) == 3 and args[1] == "--public-key":
        with open(args[2], encoding="ascii") as pem:
            key = public_key(pem.read())
        args = args[:1]
    if len(args) != 1:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    with open(args[0], encoding="utf-8") as export:
        problem = check(export, key)
    print(problem or ("export verifies" + ("" if key else " (checkpoint signatures unchecked: no --public-key)")))
    return 1 if problem else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
