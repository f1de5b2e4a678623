"""The live-log WebSocket's handshake (DESIGN §8): session or token, origin, organization,
permission; refusals send no frame; bad parameters get an error frame."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from apps.accounts.models import ApiToken
from apps.accounts.roles import Role
from tests.factories import MembershipFactory
from tests.logs.conftest import append, play, session_cookie, token_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_token_client_without_origin_replays_then_streams(instance, ws_client, viewer_user):
    append(instance, 5)
    token = token_for(viewer_user)

    async def scenario():
        client = ws_client(instance, token=token, origin=None, query="after=2")
        assert await client.connect()
        await client.until(lambda frame: frame["type"] == "replayed")
        # DESIGN §8: the stored lines first, then the statuses, then the end of the replay.
        assert [frame["type"] for frame in client.frames] == ["logs", "instance", "step", "replayed"]
        assert client.frames[1]["status"] == "running"
        assert client.frames[2] == {**client.frames[2], "type": "step", "step": "plan", "status": "running"}
        assert client.seqs == [3, 4, 5]
        assert client.frames[-1] == {"type": "replayed", "last_seq": 5}
        first = client.lines[0]
        assert set(first) == {"type", "seq", "step", "host", "stream", "ts", "line"}
        assert (first["type"], first["step"], first["host"], first["stream"], first["line"]) == (
            "log", "plan", "web-1", "stdout", "line 2")

        await database_sync_to_async(append)(instance, 3, start=5)
        await client.until_seq(8)
        assert client.seqs == [3, 4, 5, 6, 7, 8]
        await client.close()

    play(scenario)


def test_a_browser_session_with_its_origin_is_accepted(instance, ws_client, viewer_user):
    append(instance, 2)
    cookie = session_cookie(viewer_user)

    async def scenario():
        client = ws_client(instance, session=cookie)
        assert await client.connect()
        await client.until(lambda frame: frame["type"] == "replayed")
        assert client.seqs == [1, 2]
        await client.close()

    play(scenario)


@pytest.mark.parametrize("case", ["anonymous", "session without origin", "foreign origin", "bad token",
                                  "revoked token", "other organization", "no membership", "token of other org"])
def test_refused_at_the_handshake_with_no_frame(case, instance, ws_client, viewer_user, other_org, make_member):
    append(instance, 3)
    outsider = make_member(other_org, Role.OWNER, "outsider")
    loner = make_member(other_org, Role.VIEWER, "loner")
    loner.memberships.all().delete()
    revoked = token_for(viewer_user)
    ApiToken.objects.filter(user=viewer_user).update(revoked_at=timezone.now())
    kwargs = {
        "anonymous": {},
        "session without origin": {"session": session_cookie(viewer_user), "origin": None},
        "foreign origin": {"session": session_cookie(viewer_user), "origin": b"https://evil.example"},
        "bad token": {"authorization": b"Token not-a-real-token", "origin": None},
        "revoked token": {"token": revoked, "origin": None},
        "other organization": {"session": session_cookie(outsider)},
        "no membership": {"session": session_cookie(loner)},
        "token of other org": {"token": token_for(outsider), "origin": None, "organization": "acme"},
    }[case]

    async def scenario():
        client = ws_client(instance, **kwargs)
        assert not await client.connect()
        assert await client.communicator.receive_nothing(timeout=0.3)

    play(scenario)


@pytest.mark.parametrize(("origin", "host", "allowed"), [
    (b"https://ops.example.com", b"ops.example.com", True),  # the page is this site
    (b"http://ops.example.com:8080", b"ops.example.com:8080", True),
    (b"https://evil.example", b"ops.example.com", False),  # another site's page
    (b"https://ops.example.com.evil.example", b"ops.example.com", False),
    (b"https://evil.example", b"evil.example", False),  # a Host outside ALLOWED_HOSTS (DNS rebinding)
    (b"https://portal.corp.example", b"ops.example.com", True),  # CSRF_TRUSTED_ORIGINS wildcard
    (b"http://portal.corp.example", b"ops.example.com", False),  # ... with its scheme
    (b"null", b"ops.example.com", False),  # a sandboxed frame or a file
])
def test_a_browser_origin_must_be_this_site_or_trusted(settings, origin, host, allowed):
    from apps.accounts.websocket import origin_allowed

    settings.ALLOWED_HOSTS = ["ops.example.com"]
    settings.CSRF_TRUSTED_ORIGINS = ["https://*.corp.example"]
    assert origin_allowed(origin, host) is allowed


def test_allowed_hosts_star_does_not_let_any_origin_in(settings):
    from apps.accounts.websocket import origin_allowed

    settings.ALLOWED_HOSTS = ["*"]
    settings.CSRF_TRUSTED_ORIGINS = []
    assert origin_allowed(b"https://ops.example.com", b"ops.example.com")
    assert not origin_allowed(b"https://evil.example", b"ops.example.com")


def test_a_member_without_workflows_view_is_refused(instance, ws_client, org, make_member, monkeypatch):
    member = make_member(org, Role.VIEWER, "no-view")
    monkeypatch.setattr("apps.accounts.roles.ROLE_PERMISSIONS",
                        {Role.VIEWER: frozenset({"automation.view"})})
    token = token_for(member)

    async def scenario():
        client = ws_client(instance, token=token, origin=None)
        assert not await client.connect()

    play(scenario)


def test_a_member_of_two_organizations_names_one_with_the_header(instance, ws_client, viewer_user, other_org):
    MembershipFactory(organization=other_org, user=viewer_user, role=Role.VIEWER)
    token = token_for(viewer_user)

    async def scenario():
        ambiguous = ws_client(instance, token=token, origin=None)
        assert not await ambiguous.connect()  # like the API's 400: several organizations, none named
        wrong = ws_client(instance, token=token, origin=None, organization=other_org.slug)
        assert not await wrong.connect()  # the instance is not in that organization
        right = ws_client(instance, token=token, origin=None, organization="acme")
        assert await right.connect()
        await right.close()

    play(scenario)


def test_bad_parameters_get_an_error_frame_and_a_close(instance, ws_client, viewer_user):
    token = token_for(viewer_user)

    async def scenario():
        client = ws_client(instance, token=token, origin=None, query="after=-4")
        assert await client.connect()
        frame = await client.receive()
        assert frame == {"type": "error", "detail": "'after' must be between 0 and 4611686018427387904."}
        assert (await client.communicator.receive_output(5))["type"] == "websocket.close"

    play(scenario)
