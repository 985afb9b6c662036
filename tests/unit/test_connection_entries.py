"""How rooms and presence sets spell a connection (``domain.connections``), old spellings included."""

from __future__ import annotations

from chalicelib.domain.connections import (
    RoomMember,
    connection_entries,
    connection_entry,
    entries_naming,
    expired,
    parse_connections,
    parse_room,
    room_entries,
    room_entry,
)


def test_entries_carry_the_tokens_expiry() -> None:
    assert room_entry("c1=", "alice", 1_800_000_000) == "c1= alice 1800000000"
    assert connection_entry("c1=", 1_800_000_000) == "c1= 1800000000"


def test_entries_round_trip() -> None:
    room = {room_entry("c1=", "alice", 1_800_000_000), room_entry("c2=", "bob", None)}
    assert parse_room(room) == {"c1=": RoomMember("alice", 1_800_000_000), "c2=": RoomMember("bob", None)}
    assert parse_connections({connection_entry("c1=", 5), connection_entry("c2=", None)}) == {"c1=": 5, "c2=": None}


def test_spellings_from_before_expiries_were_recorded_parse_without_one() -> None:
    assert parse_room({"c1= alice"}) == {"c1=": RoomMember("alice", None)}
    assert parse_connections({"c1="}) == {"c1=": None}
    assert parse_room({"nospace", ""}) == {} and parse_connections(None) == {}


def test_removing_a_connection_names_every_spelling() -> None:
    assert room_entries("c1=", "alice", 7) == {"c1= alice", "c1= alice 7"}
    assert connection_entries("c1=", 7) == {"c1=", "c1= 7"}
    assert connection_entries("c1=", None) == {"c1="}


def test_entries_naming_finds_them_as_stored() -> None:
    stored = {"c1= alice 7", "c10= bob 9", "c2= carol"}
    assert entries_naming(stored, {"c1=", "c2="}) == {"c1= alice 7", "c2= carol"}
    assert entries_naming(None, {"c1="}) == set()


def test_an_unknown_expiry_never_expires() -> None:
    assert expired(100, now=100) and expired(100, now=101.5)
    assert not expired(100, now=99.9) and not expired(None, now=10**12)
