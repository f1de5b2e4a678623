from django.apps import AppConfig


class SiteConfig(AppConfig):
    """The composition root above the domain apps (DESIGN §1): `manage.py standalone`, its
    process supervisor and private Redis, and the demo data of `make run`. No app imports it."""

    name = "apps.site"
    label = "site"
