"""Reading SDK objects: ``field`` reads a pydantic model's declared fields from ``__dict__``,
finds fields an older SDK kept in pydantic's extras, never calls ``__getattr__`` for a field
the model does not declare, and reads plain objects and dicts; ``ClientCache`` keeps a value
per client while the client and its version stay the same."""

import enum
import gc

import pydantic

from tokentrail.instrumentation._sdk import (
    ClientCache,
    count,
    enum_value,
    field,
    given_float,
    given_int,
    int_field,
)
from tokentrail.usage import UNREADABLE


class Declared(pydantic.BaseModel):
    prompt_tokens: int = 0
    details: dict | None = None


class WithExtras(pydantic.BaseModel, extra="allow"):
    input_tokens: int = 0


class Plain:
    cached_tokens = 7

    @property
    def computed(self):
        return 3


def test_field_reads_declared_fields_extras_plain_objects_and_dicts():
    assert field(Declared(prompt_tokens=12), "prompt_tokens") == 12
    assert (
        field(WithExtras(input_tokens=1, cache_read_input_tokens=5), "cache_read_input_tokens") == 5
    )
    assert field(Plain(), "cached_tokens") == 7
    assert field(Plain(), "computed") == 3
    assert field({"a": 1}, "a") == 1
    assert field(None, "a") is None


def test_an_undeclared_field_is_none_without_pydantic_getattr(monkeypatch):
    model = Declared()

    def boom(self, name):  # pragma: no cover - must not be called
        raise AssertionError(f"__getattr__({name}) called")

    monkeypatch.setattr(Declared, "__getattr__", boom, raising=False)
    assert field(model, "cache_write_tokens") is None
    assert int_field(model, "cache_write_tokens") == 0


def test_counts_and_given_arguments():
    assert count(5) == 5
    assert count(None) == 0  # not reported: none of that part
    for unreadable in (True, -1, 10**13, "5", 5.0, [5]):
        assert count(unreadable) == UNREADABLE
    assert int_field("5 tokens", "prompt_tokens") == UNREADABLE  # not a record
    assert int_field(None, "prompt_tokens") == 0
    assert given_int(100) == 100
    assert given_int(True) is None
    assert given_int(object()) is None  # NOT_GIVEN and omit sentinels
    assert given_float(1) == 1.0
    assert given_float(0.2) == 0.2
    assert given_float(False) is None


def test_client_cache_follows_the_client_and_its_version():
    class Client:
        pass

    cache = ClientCache()
    client, url = Client(), object()
    assert cache.get(client, url) is None
    assert cache.put(client, url, "endpoint") == "endpoint"
    assert cache.get(client, url) == "endpoint"
    assert cache.get(client, object()) is None  # the base URL changed
    assert cache.get(Client(), url) is None
    del client
    gc.collect()
    assert all(ref() is None for ref, _, _ in cache._entries.values())  # held weakly


class Reason(str, enum.Enum):
    STOP = "STOP"
    LONG = "MAX_TOKENS"  # a name that is not its value


class Level(enum.IntEnum):
    HIGH = 3


class Valued:
    value = "not an enum"


def test_enum_value_reads_members_and_leaves_everything_else():
    for _ in range(2):  # the second time from the cache
        assert enum_value(Reason.STOP) == "STOP"
        assert enum_value(Reason.LONG) == "MAX_TOKENS"
        assert type(enum_value(Reason.LONG)) is str
        assert enum_value(Level.HIGH) == 3
    for value in ("STOP", None, 7, ["STOP"], {"a": 1}):
        assert enum_value(value) == value
    thing = Valued()
    assert enum_value(thing) is thing
