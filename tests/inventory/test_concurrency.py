"""Races the services must win without a 500: real transactions on separate connections."""

import threading
import time

import pytest
from django.db import connection, transaction

from apps.core.errors import ApplicationError
from apps.credentials.models import Credential
from apps.credentials.services import credential_delete
from apps.inventory.models import Host
from apps.inventory.services import host_create
from tests.credentials.factories import CredentialFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _in_thread(target, results: dict, key: str) -> threading.Thread:
    def run():
        try:
            results[key] = target()
        except ApplicationError as exc:
            results[key] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_concurrent_create_of_one_hostname_is_a_409_not_a_500(org):
    first_inserted = threading.Event()
    results: dict = {}

    def first():
        with transaction.atomic():
            host = host_create(organization=org, actor=None, hostname="web-01")
            first_inserted.set()
            time.sleep(0.5)  # the second request passes its check and waits on the unique index
        return host

    def second():
        first_inserted.wait(5)
        return host_create(organization=org, actor=None, hostname="WEB-01")

    threads = [_in_thread(first, results, "first"), _in_thread(second, results, "second")]
    for thread in threads:
        thread.join(10)

    assert isinstance(results["first"], Host)
    assert isinstance(results["second"], ApplicationError), results["second"]
    assert (results["second"].status_code, results["second"].code) == (409, "duplicate")
    assert Host.objects.count() == 1


def test_credential_delete_waits_for_a_host_that_starts_using_it(org):
    credential = CredentialFactory(organization=org)
    host_locked_credential = threading.Event()
    results: dict = {}

    def create_host():
        with transaction.atomic():
            host = host_create(organization=org, actor=None, hostname="db-01", credential=credential.pk)
            host_locked_credential.set()
            time.sleep(0.5)
        return host

    def delete_credential():
        host_locked_credential.wait(5)
        return credential_delete(organization=org, credential_id=credential.pk, actor=None)

    threads = [_in_thread(create_host, results, "host"), _in_thread(delete_credential, results, "delete")]
    for thread in threads:
        thread.join(10)

    assert isinstance(results["host"], Host)
    assert getattr(results["delete"], "code", None) == "credential_in_use"
    assert Credential.objects.filter(pk=credential.pk).exists()
