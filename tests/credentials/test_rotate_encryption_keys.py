"""manage.py rotate_encryption_keys: re-encrypt with the new primary key, so that the old
key can be dropped; idempotent; --check finds rows the configured keys cannot decrypt."""

import io

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command

from apps.audit.models import AuditEvent
from apps.credentials.models import Credential
from apps.credentials.services import credential_create, credential_secret

pytestmark = pytest.mark.django_db

OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command("rotate_encryption_keys", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def vault(org, settings):
    settings.OPSFLOW_ENCRYPTION_KEYS = [OLD_KEY]
    secrets = {f"cred-{n}": f"secret-number-{n}\n" for n in range(5)}
    for name, secret in secrets.items():
        credential_create(organization=org, actor=None, name=name, kind="password", secret=secret)
    return secrets


def _ciphertexts() -> dict[str, str]:
    return dict(Credential.objects.values_list("name", "secret_encrypted"))


def test_rotation_lets_the_old_key_be_dropped(vault, settings):
    before = _ciphertexts()
    updated_at = dict(Credential.objects.values_list("name", "updated_at"))
    settings.OPSFLOW_ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]

    output = _run("--batch-size", "2")

    assert "Re-encrypted 5 row(s)." in output
    assert "credentials.Credential.secret_encrypted: 5 re-encrypted of 5" in output
    after = _ciphertexts()
    assert all(after[name] != before[name] for name in vault)
    assert dict(Credential.objects.values_list("name", "updated_at")) == updated_at  # data did not change
    settings.OPSFLOW_ENCRYPTION_KEYS = [NEW_KEY]
    for credential in Credential.objects.all():
        assert credential_secret(credential) == vault[credential.name]
    assert AuditEvent.objects.filter(action="encryption_keys.rotate").count() == 1


def test_second_run_rewrites_nothing(vault, settings):
    settings.OPSFLOW_ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]
    _run()
    rotated = _ciphertexts()

    assert "Re-encrypted 0 row(s)." in _run()
    assert _ciphertexts() == rotated
    settings.OPSFLOW_ENCRYPTION_KEYS = [NEW_KEY]
    assert "Re-encrypted 0 row(s)." in _run()


def test_check_reports_rows_the_keys_cannot_decrypt(vault, settings):
    settings.OPSFLOW_ENCRYPTION_KEYS = [NEW_KEY]  # the old key dropped before rotating: a mistake
    before = _ciphertexts()

    with pytest.raises(CommandError, match="5 row\\(s\\) cannot be decrypted"):
        _run("--check")
    assert _ciphertexts() == before  # --check changes nothing

    settings.OPSFLOW_ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]
    assert "0 not decryptable" in _run("--check")
    assert _ciphertexts() == before


def test_rotation_skips_and_reports_undecryptable_rows(vault, settings, org):
    settings.OPSFLOW_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    stray = credential_create(organization=org, actor=None, name="stray", kind="token", secret="from-a-lost-key")
    settings.OPSFLOW_ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]

    with pytest.raises(CommandError, match=f"pk {stray.pk}"):
        _run()

    settings.OPSFLOW_ENCRYPTION_KEYS = [NEW_KEY]
    for credential in Credential.objects.exclude(pk=stray.pk):
        assert credential_secret(credential) == vault[credential.name]  # the others were rotated


def test_batch_size_must_be_positive(vault):
    with pytest.raises(CommandError, match="batch-size"):
        _run("--batch-size", "0")
