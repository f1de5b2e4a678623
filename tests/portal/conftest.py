from tests.portal.fixtures import acme, globex, member_of_both  # noqa: F401 - fixtures
