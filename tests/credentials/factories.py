import factory

from apps.core.crypto import encrypt
from apps.credentials.models import Credential, CredentialKind
from tests.factories import OrganizationFactory


class CredentialFactory(factory.django.DjangoModelFactory):
    """`secret` is the plaintext (default "s3cret-<n>"); only its ciphertext is stored."""

    class Meta:
        model = Credential
        exclude = ["secret"]

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"cred-{n}")
    kind = CredentialKind.PASSWORD
    username = "deploy"
    secret = factory.Sequence(lambda n: f"s3cret-{n}")
    secret_encrypted = factory.LazyAttribute(lambda o: encrypt(o.secret))
