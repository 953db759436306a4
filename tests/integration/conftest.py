"""A store that signs audit checkpoints, shared by the tamper, erasure and audit CLI tests."""
import pytest

from projections.signing import generate
from tests.support import Api, new_system


@pytest.fixture(scope="module")
def key_pair() -> tuple[bytes, bytes]:
    return generate()


def signed_system(backend: dict, key_pair, **cadence):
    """A system whose processes sign a checkpoint every 4 events unless `cadence` says otherwise."""
    return new_system(**backend, audit_key=key_pair[0].decode(), **{
        "audit_checkpoint_events": 4, "audit_checkpoint_seconds": 3600, **cadence})


@pytest.fixture
def signed(backend, key_pair):
    """A store whose processes sign a checkpoint every 4 events, served over HTTP."""
    system = signed_system(backend, key_pair)
    try:
        with Api.serving(system) as api:
            yield api
    finally:
        system.shutdown()
