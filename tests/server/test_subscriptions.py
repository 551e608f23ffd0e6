"""Change notifications keep the promises the server declares: `resources/updated` only to the subscribers
of that URI, list changes to everyone at most once per interval, in both protocol eras."""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise
from typing import Any

import anyio
import mcp_types as types
import pytest
from mcp import Client
from mcp.server.subscriptions import ResourcesListChanged, ResourceUpdated

from trace2skill.home import Home
from trace2skill.server import ServerConfig, Trace2SkillServer, create_server

pytestmark = [pytest.mark.anyio, pytest.mark.filterwarnings("ignore:resources/.*subscribe is removed")]

SHEETS = "skill://sheets/SKILL.md"
RUN_OK = "trajectory://t-ok-1"
RUN = {"task": "Count the rows", "skill": "sheets", "messages": [{"role": "user", "content": "go"}]}


class Inbox:
    """What a 2025-era client was sent: every change notification, in order."""

    def __init__(self) -> None:
        self.updated: list[str] = []
        self.list_changes = 0
        self._arrived = anyio.Event()

    async def __call__(self, message: Any) -> None:
        if isinstance(message, types.ResourceUpdatedNotification):
            self.updated.append(str(message.params.uri))
        elif isinstance(message, types.ResourceListChangedNotification):
            self.list_changes += 1
        else:
            return
        self._arrived.set()

    async def wait_for(self, done: Callable[[Inbox], bool]) -> None:
        with anyio.fail_after(5):
            while not done(self):
                self._arrived = anyio.Event()
                await self._arrived.wait()


async def test_both_eras_are_told_the_server_sends_list_changes_and_takes_subscriptions(
    server: Trace2SkillServer, connect: Callable[..., Client]
) -> None:
    async with connect(server) as client:
        resources = client.server_capabilities.resources
    assert resources is not None and resources.list_changed is True and resources.subscribe is True


async def test_a_2025_subscriber_and_only_a_subscriber_gets_updated(server: Trace2SkillServer) -> None:
    sheets_watcher, run_watcher = Inbox(), Inbox()
    async with (
        Client(server, mode="legacy", message_handler=sheets_watcher) as a,
        Client(server, mode="legacy", message_handler=run_watcher) as b,
    ):
        await a.subscribe_resource(SHEETS)
        await b.subscribe_resource(RUN_OK)
        await a.call_tool("rollback_skill", {"name": "sheets", "version": 1})
        await a.call_tool("label_trajectory", {"id": "t-ok-1", "status": "failure"})
        await a.call_tool("rollback_skill", {"name": "sheets", "version": 2})
        await run_watcher.wait_for(lambda inbox: RUN_OK in inbox.updated)
        await sheets_watcher.wait_for(lambda inbox: len(inbox.updated) == 2)
    assert sheets_watcher.updated == [SHEETS, SHEETS]
    assert run_watcher.updated == [RUN_OK]  # arrived after the first SHEETS update, which it was not sent
    assert run_watcher.list_changes >= 1 and sheets_watcher.list_changes >= 1


async def test_a_2025_client_that_unsubscribes_hears_no_more_updates(server: Trace2SkillServer) -> None:
    inbox = Inbox()
    async with Client(server, mode="legacy", message_handler=inbox) as client:
        await client.subscribe_resource(SHEETS)
        await client.subscribe_resource(RUN_OK)
        await client.unsubscribe_resource(SHEETS)
        await client.call_tool("rollback_skill", {"name": "sheets", "version": 1})
        await client.call_tool("label_trajectory", {"id": "t-ok-1", "status": "success"})
        await inbox.wait_for(lambda inbox: RUN_OK in inbox.updated)
    assert inbox.updated == [RUN_OK]


async def test_a_2026_listener_gets_updated_only_for_the_uris_it_listens_to(server: Trace2SkillServer) -> None:
    async with (
        Client(server, mode="auto", raise_exceptions=True) as client,
        client.listen(resource_subscriptions=[SHEETS]) as sheets_stream,
        client.listen(resource_subscriptions=[RUN_OK]) as run_stream,
    ):
        await client.call_tool("rollback_skill", {"name": "sheets", "version": 1})
        await client.call_tool("label_trajectory", {"id": "t-ok-1", "status": "failure"})
        with anyio.fail_after(5):
            first_sheets = await anext(aiter(sheets_stream))
            first_run = await anext(aiter(run_stream))
    assert first_sheets == ResourceUpdated(uri=SHEETS)
    assert first_run == ResourceUpdated(uri=RUN_OK)  # the SHEETS update, published first, never reached it


@pytest.fixture
def hurried_server(seeded: Home) -> Trace2SkillServer:
    return create_server(ServerConfig(home=seeded, list_changed_interval=0.3))


async def test_a_burst_of_changes_is_announced_at_most_once_per_interval_and_the_last_one_is_not_lost(
    hurried_server: Trace2SkillServer,
) -> None:
    interval = hurried_server.config.list_changed_interval
    published: list[float] = []
    stop = hurried_server.bus.subscribe(
        lambda event: published.append(anyio.current_time()) if event == ResourcesListChanged() else None
    )
    inbox = Inbox()
    try:
        async with Client(hurried_server, mode="legacy", message_handler=inbox) as client:
            for _ in range(4):
                await client.call_tool("record_trajectory", {"trajectory": RUN})
            last_change = anyio.current_time()
            await inbox.wait_for(lambda _: bool(published) and published[-1] >= last_change)
            await anyio.sleep(2 * interval)  # nothing more may come
            await inbox.wait_for(lambda inbox: inbox.list_changes == len(published))
    finally:
        stop()
    assert 2 <= len(published) < 4  # the first at once, the rest coalesced; 2026 listeners get the same
    assert all(later - earlier >= 0.95 * interval for earlier, later in pairwise(published))
    assert inbox.list_changes == len(published)


async def test_a_2025_session_is_forgotten_when_it_ends(server: Trace2SkillServer) -> None:
    async with Client(server, mode="legacy", message_handler=Inbox()) as leaving:
        await leaving.subscribe_resource(SHEETS)
        assert server.state is not None
        announcer = server.state.announcer
        assert len(announcer._sessions) == 1
    assert len(announcer._sessions) == 0  # no notification is ever sent to it again, and nothing is held
