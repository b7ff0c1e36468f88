"""The chat product's services, built once from Settings and shared by socket and REST."""

from __future__ import annotations

from dataclasses import dataclass

from baatcheet.chat.accounts import Accounts
from baatcheet.chat.messages import Messages
from baatcheet.chat.presence import Presence
from baatcheet.chat.presence_memory import MemoryPresence
from baatcheet.chat.presence_redis import RedisPresence
from baatcheet.chat.receipts import Receipts
from baatcheet.chat.rooms import Rooms
from baatcheet.settings import Settings
from baatcheet.store import Store, open_store

__all__ = ["ChatService"]


@dataclass(slots=True)
class ChatService:
    """The store plus every use case on top of it.

    Create with :meth:`open` (or :meth:`build` around a store you opened) and
    :meth:`close` when the server stops. Presence is shared through Redis when
    ``settings.redis_url`` joins a cluster, else kept in this process.
    """

    settings: Settings
    store: Store
    accounts: Accounts
    rooms: Rooms
    messages: Messages
    receipts: Receipts
    presence: Presence

    @classmethod
    async def open(cls, settings: Settings) -> ChatService:
        """Open the database from ``settings.database_url`` and build the services."""
        store = await open_store(settings)
        try:
            return await cls.build(settings, store)
        except BaseException:
            await store.close()
            raise

    @classmethod
    async def build(cls, settings: Settings, store: Store) -> ChatService:
        """Build the services on an open store (which :meth:`close` will close)."""
        rooms = Rooms(store, settings)
        return cls(
            settings=settings,
            store=store,
            accounts=await Accounts.open(store, settings),
            rooms=rooms,
            messages=Messages(store, rooms, settings),
            receipts=Receipts(store),
            presence=_presence(settings),
        )

    async def close(self) -> None:
        """Stop presence (this node's users go offline), flush pending writes, close the
        database, stop the password-hashing threads."""
        try:
            await self.presence.close()
        finally:
            await self.store.close()
            self.accounts.passwords.close()


def _presence(settings: Settings) -> Presence:
    if settings.redis_url:
        return RedisPresence.from_settings(settings)
    return MemoryPresence()
