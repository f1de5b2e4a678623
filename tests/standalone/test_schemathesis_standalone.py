"""Schemathesis over HTTP against `manage.py standalone` (issue 13, item 6): the embedded
SQLite mode answers every generated case without a 5xx and as its schema documents, with
the admin's API token (owner of the demo organization, given a host, a credential, a
published workflow, a run and an open approval) and without any token.

One start for the module, without workers: generated runs must not execute anything on
this machine. The same checks run in-process on Postgres in
tests/contract/test_schemathesis.py.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
import schemathesis
from hypothesis import settings

from tests.contract.fuzz import CHECKS, FUZZ_SETTINGS, OrgData, answered_before_authentication, prepare
from tests.standalone.conftest import BASE_DIR, Standalone, standalone_env

pytestmark = pytest.mark.xdist_group("standalone")
# Over HTTP and in one worker (the standalone group): fewer generated cases per operation
# than in-process; the coverage phase's cases still all run.
HTTP_SETTINGS = settings(FUZZ_SETTINGS, max_examples=10)

# Runs in the standalone's own database, with its settings and secrets.
SEED = """
import json
from django.contrib.auth import get_user_model
from apps.accounts.models import Organization
from tests.contract.fuzz import make_org_data
data = make_org_data(Organization.objects.get(slug="demo"), get_user_model().objects.get(username="admin"))
print(json.dumps({"token": data.token, "path_values": data.path_values}))
"""


@dataclass
class StandaloneApi:
    base_url: str
    data: OrgData
    session: requests.Session


def seed(var_dir: Path) -> OrgData:
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", SEED],
        cwd=BASE_DIR, env={**standalone_env(var_dir), "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return OrgData(**json.loads(result.stdout.strip().splitlines()[-1]))


@pytest.fixture(scope="module")
def standalone_api() -> Iterator[StandaloneApi]:
    var_dir = Path(tempfile.mkdtemp(prefix="opsflow-sa-", dir="/tmp"))
    standalone = Standalone(var_dir, "--no-workers")
    try:
        standalone.wait_ready()
        with requests.Session() as session:
            yield StandaloneApi(standalone.base_url.rstrip("/"), seed(var_dir), session)
        assert standalone.stop(signal.SIGINT) == 0, standalone.output
    finally:
        if standalone.process.poll() is None:
            standalone.kill()
        shutil.rmtree(var_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def standalone_schema(standalone_api: StandaloneApi):
    return schemathesis.openapi.from_url(f"{standalone_api.base_url}/api/schema/")


schema = schemathesis.pytest.from_fixture("standalone_schema")


@schema.parametrize()
@HTTP_SETTINGS
def test_every_operation_with_an_owner_token(case, standalone_api):
    prepare(case, standalone_api.data)
    case.call_and_validate(
        base_url=standalone_api.base_url, session=standalone_api.session,
        headers={"Authorization": f"Token {standalone_api.data.token}"}, checks=CHECKS, timeout=30,
    )


@schema.parametrize()
@HTTP_SETTINGS
def test_every_operation_without_a_token_is_refused(case, standalone_api):
    prepare(case, standalone_api.data)
    case.headers = {key: value for key, value in (case.headers or {}).items() if key.lower() != "authorization"}
    response = case.call_and_validate(
        base_url=standalone_api.base_url, session=standalone_api.session, checks=CHECKS, timeout=30
    )
    refused = response.status_code in (401, 403)
    assert refused or (response.status_code == 404 and answered_before_authentication(case)), (
        case.method, case.formatted_path, case.query, response.status_code)
