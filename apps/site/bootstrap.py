"""First-run data of the embedded default: a demo organization, its admin and a host.

`demo_bootstrap()` makes sure each object exists and creates only what is missing, so
running it again (every `manage.py standalone` start) changes nothing and never resets
the admin's password. A `load_examples` command builds on it.
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction

from apps.accounts.models import Membership, Organization
from apps.accounts.roles import Role
from apps.accounts.services import member_set, organization_create
from apps.audit.services import audit_record
from apps.credentials.services import credential_create
from apps.inventory.models import Connection, Host
from apps.inventory.services import host_create
from apps.workflows.services import examples_load

DEMO_ORGANIZATION_SLUG = "demo"
DEMO_ORGANIZATION_NAME = "Demo"
ADMIN_USERNAME = "admin"
LOCAL_HOSTNAME = "localhost"
# The credential the bundled rotate-password example checks out.
DEMO_CREDENTIAL = "db-admin"


@dataclass(frozen=True)
class DemoBootstrap:
    organization: Organization
    admin: AbstractBaseUser
    host: Host
    # The admin's password when the admin was created by this call, else None.
    admin_password: str | None
    created: tuple[str, ...]


@transaction.atomic
def demo_bootstrap(*, admin_password: str | None = None) -> DemoBootstrap:
    """Create what is missing of: superuser `admin`, organization `demo` owned by admin,
    and host `localhost` (connection `local`) in demo.

    The password is `admin_password` (OPSFLOW_ADMIN_PASSWORD) or a generated one; it is
    returned only when the user is created now, so it can be shown exactly once."""
    created: list[str] = []
    admin, password = _admin_ensure(admin_password, created)
    organization = Organization.objects.filter(slug=DEMO_ORGANIZATION_SLUG).first()
    first_start = organization is None
    if organization is None:
        organization = organization_create(name=DEMO_ORGANIZATION_NAME, slug=DEMO_ORGANIZATION_SLUG, actor=admin)
        created.append(f"organization {DEMO_ORGANIZATION_SLUG}")
    if not Membership.objects.filter(organization=organization, user=admin).exists():
        member_set(organization=organization, username=admin.get_username(), role=Role.OWNER, actor=admin)
        created.append(f"{ADMIN_USERNAME} as owner of {DEMO_ORGANIZATION_SLUG}")
    host = _local_host_ensure(organization, admin, created)
    if first_start:  # later starts never bring back what an operator deleted
        _examples_load(organization, admin, created)
    return DemoBootstrap(organization, admin, host, password, tuple(created))


def _admin_ensure(password: str | None, created: list[str]) -> tuple[AbstractBaseUser, str | None]:
    User = get_user_model()
    admin = User.objects.filter(username=ADMIN_USERNAME).first()
    if admin is not None:
        return admin, None
    password = password or _generate_password()
    admin = User.objects.create_superuser(username=ADMIN_USERNAME, email="", password=password)
    audit_record(actor=None, action="user.create", target=admin,
                 data={"username": ADMIN_USERNAME, "is_superuser": True, "source": "standalone"})
    created.append(f"superuser {ADMIN_USERNAME}")
    return admin, password


def _examples_load(organization: Organization, actor: AbstractBaseUser, created: list[str]) -> None:
    """The bundled example workflows, and the vault credential the rotation example leases."""
    credential_create(organization=organization, actor=actor, name=DEMO_CREDENTIAL, kind="password",
                      username="db_admin", secret=_generate_password(24))
    definitions = examples_load(organization=organization, actor=actor)
    created.append(f"credential {DEMO_CREDENTIAL} and {len(definitions)} example workflows")


def _generate_password(length: int = 16) -> str:
    alphabet = string.ascii_letters + string.digits  # easy to copy from a terminal
    return "".join(secrets.choice(alphabet) for _ in range(length))


def _local_host_ensure(organization: Organization, actor: AbstractBaseUser, created: list[str]) -> Host:
    host = Host.objects.filter(organization=organization, hostname__iexact=LOCAL_HOSTNAME).first()
    if host is not None:
        return host
    host = host_create(organization=organization, actor=actor, hostname=LOCAL_HOSTNAME,
                       primary_ip="127.0.0.1", connection=Connection.LOCAL)
    created.append(f"host {LOCAL_HOSTNAME}")
    return host
