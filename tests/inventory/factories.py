import factory

from apps.inventory.models import Connection, Host, HostGroup
from tests.factories import OrganizationFactory


class HostGroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = HostGroup

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"group-{n}")


class HostFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Host
        skip_postgeneration_save = True

    organization = factory.SubFactory(OrganizationFactory)
    hostname = factory.Sequence(lambda n: f"host-{n}.example.com")
    primary_ip = factory.Sequence(lambda n: f"10.9.{n // 250}.{n % 250 + 1}")
    connection = Connection.SSH
    port = 22

    @factory.post_generation
    def groups(self, create, extracted, **kwargs):
        if create and extracted:
            self.groups.set(extracted)
