"""The call cache on damaged folders and hostile values: never a wrong value, never a raw
``sqlite3``, ``json`` or ``RecursionError``; every failure a ``CacheError`` with the action.

A template folder is filled once, then each test damages a copy of it as a disk, a crash or
a careless hand would: truncated, a page zeroed, a byte flipped, garbage rows.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import sqlite3
import warnings
from pathlib import Path
from typing import Any

import pytest

from onetwo.backends.fake import FakeBackend
from onetwo.core import caching
from onetwo.core.backend import Backend
from onetwo.core.caching import CallCache
from onetwo.errors import CacheError

PROMPTS = [f"question {i}" for i in range(40)]
PAGE = 4096


def _answer(prompt: str, **_: Any) -> str:
    return f"the answer to {prompt} is " + "0123456789abcdef" * 12


def _backend(cache: CallCache) -> FakeBackend:
    return FakeBackend(regex_replies=[(".", _answer)], cache=cache)


def _db(folder: Path) -> Path:
    return folder / "cache.db"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("template") / "cache"
    cache = CallCache(folder)
    backend = _backend(cache)
    for prompt in PROMPTS:
        asyncio.run(backend.generate_text(prompt))
    cache.close()
    with sqlite3.connect(_db(folder)) as con:  # everything into cache.db: no WAL to copy
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    assert not (folder / "cache.db-wal").exists() or (folder / "cache.db-wal").stat().st_size == 0
    return folder


def _copy(template: Path, tmp_path: Path, name: str = "damaged") -> Path:
    folder = tmp_path / name
    shutil.copytree(template, folder)
    return folder


def _use(folder: Path) -> dict[str, int]:
    """Open, replay every prompt, check, export: count what happened; raise anything else."""
    seen = {"refused": 0, "right": 0, "errors": 0, "called": 0}
    try:
        cache = CallCache(folder)
    except CacheError as e:
        assert "Restore the folder from a copy" in str(e), e
        seen["refused"] += 1
        return seen
    backend = _backend(cache)
    for prompt in PROMPTS:
        try:
            value = asyncio.run(backend.generate_text(prompt))
        except CacheError as e:
            assert "Restore the folder from a copy" in str(e), e
            seen["errors"] += 1
        else:
            assert value == _answer(prompt)  # from the cache or the model: never wrong
            seen["right"] += 1
    for attempt in (lambda: cache.check(), lambda: cache.export_jsonl(folder.parent / "x.jsonl")):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                attempt()
            except CacheError as e:
                assert "Restore the folder from a copy" in str(e), e
                seen["errors"] += 1
    cache.close()
    seen["called"] = len(backend.calls)  # entries lost: computed again, the right value
    return seen


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 1 << random.Random(offset).randrange(8)
    path.write_bytes(bytes(data))


def _damage(folder: Path, rng: random.Random) -> str:
    db = _db(folder)
    size = db.stat().st_size
    kind = rng.choice(["truncate", "zero page", "flip byte", "flip value", "rows", "settings"])
    if kind == "truncate":
        with open(db, "r+b") as f:
            f.truncate(rng.randrange(size))
    elif kind == "zero page":
        data = bytearray(db.read_bytes())
        page = rng.randrange(size // PAGE)
        data[page * PAGE : (page + 1) * PAGE] = bytes(PAGE)
        db.write_bytes(bytes(data))
    elif kind == "flip byte":
        _flip(db, rng.randrange(size))
    elif kind == "flip value":  # inside a stored answer, where SQLite has no check at all
        stored = db.read_bytes()
        starts = [i for i in range(len(stored)) if stored.startswith(b"the answer to", i)]
        _flip(db, rng.choice(starts) + rng.randrange(len(_answer("question 1"))))
    else:
        with sqlite3.connect(db) as con:
            junk = "".join(rng.choice('{}[]":,0a\\n ') for _ in range(rng.randrange(1, 60)))
            if kind == "rows":
                key = rng.choice([f"{rng.getrandbits(128):032x}", "onetwo:format", "onetwo:blob:x"])
                con.execute(
                    "INSERT OR REPLACE INTO Cache VALUES (NULL,?,1,0,NULL,0,0,NULL,0,1,NULL,?)",
                    (key, junk),
                )
                con.execute(
                    "UPDATE Cache SET value = ? WHERE rowid = ?", (junk, rng.randrange(1, 42))
                )
            else:
                key = rng.choice(["count", "size", "hits", "sqlite_cache_size", "eviction_policy"])
                con.execute("UPDATE Settings SET value = ? WHERE key = ?", (junk, key))
        con.close()
    return kind


def test_sixty_random_damages_never_give_a_wrong_value_or_a_raw_error(
    template: Path, tmp_path: Path
) -> None:
    rng = random.Random(11)
    outcomes: dict[str, dict[str, int]] = {}
    for i in range(60):
        folder = _copy(template, tmp_path, f"d{i}")
        kind = _damage(folder, rng)
        seen = _use(folder)
        total = outcomes.setdefault(kind, {})
        for what, n in seen.items():
            total[what] = total.get(what, 0) + n
        shutil.rmtree(folder)
    assert len(outcomes) == 6  # every kind of damage was tried
    assert sum(o["errors"] + o["refused"] for o in outcomes.values()) > 0


def test_a_flipped_byte_in_a_stored_value_is_an_error_not_the_value(
    template: Path, tmp_path: Path
) -> None:
    folder = _copy(template, tmp_path)
    data = _db(folder).read_bytes()
    _flip(_db(folder), data.index(b"the answer to question 7 ") + 30)
    backend = _backend(CallCache(folder, mode="replay"))
    with pytest.raises(CacheError, match=r"checksum does not match.*Restore the folder"):
        asyncio.run(backend.generate_text("question 7"))


def test_a_zeroed_page_and_a_truncated_file_are_cache_errors(
    template: Path, tmp_path: Path
) -> None:
    zeroed, truncated = _copy(template, tmp_path, "zeroed"), _copy(template, tmp_path, "cut")
    data = bytearray(_db(zeroed).read_bytes())
    page = data.index(b"the answer to question 7 ") // PAGE  # a page of records
    data[page * PAGE : (page + 1) * PAGE] = bytes(PAGE)
    _db(zeroed).write_bytes(bytes(data))
    with open(_db(truncated), "r+b") as f:
        f.truncate(len(data) // 2)
    for folder in (zeroed, truncated):
        seen = _use(folder)
        assert seen["errors"] + seen["refused"] + seen["called"] > 0, seen


def test_garbage_rows_are_reported_by_check_and_fix_deletes_only_them(
    template: Path, tmp_path: Path
) -> None:
    folder = _copy(template, tmp_path)
    (folder / "NOTES.md").write_text("a colleague's notes")
    with sqlite3.connect(_db(folder)) as con:
        for key, value in [("k1", "{not json"), ("k2", '00000000{"":0}\n"x"\n{}'), ("k3", "")]:
            con.execute(
                "INSERT INTO Cache VALUES (NULL,?,1,0,NULL,0,0,NULL,0,1,NULL,?)", (key, value)
            )
    con.close()
    cache = CallCache(folder)
    problems = cache.check()
    assert len(problems) == 3 and all("damaged" in p for p in problems), problems
    assert cache.check(fix=True) == problems
    assert cache.check() == [] and cache.stats()["entries"] == len(PROMPTS)
    assert (folder / "NOTES.md").read_text() == "a colleague's notes"
    cache.close()


def test_export_saves_what_is_readable_of_a_damaged_folder(template: Path, tmp_path: Path) -> None:
    folder = _copy(template, tmp_path)
    data = _db(folder).read_bytes()
    _flip(_db(folder), data.index(b"the answer to question 3 ") + 20)
    with pytest.warns(UserWarning, match="left out what is damaged"):
        saved = CallCache(folder).export_jsonl(tmp_path / "rescued.jsonl")
    assert saved == len(PROMPTS) - 1
    fresh = CallCache(tmp_path / "fresh")
    assert fresh.import_jsonl(tmp_path / "rescued.jsonl") == saved


def _nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = [value]
    return value


class Nested(Backend):
    @caching.cache_method(name="test.nested")
    async def generate(self, prompt: Any, depth: int = 0) -> Any:
        return _nested(depth)


def test_a_deeply_nested_result_or_argument_is_a_cache_error(tmp_path: Path) -> None:
    backend = Nested(cache=tmp_path / "cache")
    with pytest.raises(CacheError, match="nested too deeply"):
        asyncio.run(backend.generate("p", depth=100_000))
    with pytest.raises(CacheError, match=r"`prompt` is a value .*no stable cache key"):
        asyncio.run(backend.generate(_nested(100_000)))
    assert backend.cache is not None and backend.cache.stats()["entries"] == 0
    assert asyncio.run(backend.generate("p", depth=50)) == _nested(50)  # a sane depth works


def test_a_lone_surrogate_in_a_reply_is_stored_faithfully(tmp_path: Path) -> None:
    reply = "half a pair: \ud83d, and a whole one: \U0001f600"
    backend = FakeBackend(default_reply=reply, cache=tmp_path / "cache")
    assert asyncio.run(backend.generate_text("p")) == reply
    replay = FakeBackend(default_reply="other", cache=CallCache(tmp_path / "cache", mode="replay"))
    assert asyncio.run(replay.generate_text("p")) == reply
    assert replay.cache is not None and replay.cache.check() == []


def test_every_damage_message_names_the_action(template: Path, tmp_path: Path) -> None:
    folder = _copy(template, tmp_path)
    _db(folder).write_bytes(b"not a database at all" * 100)
    with pytest.raises(CacheError, match=r"is damaged.*Restore the folder from a copy"):
        CallCache(folder)
    os.remove(_db(folder))
    assert CallCache(folder).stats()["entries"] == 0  # a folder without a database is new


def test_a_folder_of_the_previous_format_gets_its_checksums_on_open(
    template: Path, tmp_path: Path
) -> None:
    folder = _copy(template, tmp_path)
    with sqlite3.connect(_db(folder)) as con:  # as onetwo-call-cache/2 stored them
        con.execute("UPDATE Cache SET value = substr(value, 9) WHERE key NOT GLOB 'onetwo:*'")
        con.execute("UPDATE Cache SET value = 'onetwo-call-cache/2' WHERE key = 'onetwo:format'")
    con.close()
    cache = CallCache(folder, mode="replay")
    backend = _backend(cache)
    assert [asyncio.run(backend.generate_text(p)) for p in PROMPTS] == [_answer(p) for p in PROMPTS]
    assert backend.calls == [] and cache.check() == []


def test_a_record_found_under_another_key_is_an_error_not_its_value(
    template: Path, tmp_path: Path
) -> None:
    # What a damaged index does: a lookup of one key reaches another key's row.
    folder = _copy(template, tmp_path)
    with sqlite3.connect(_db(folder)) as con:
        rows = con.execute("SELECT rowid, key FROM Cache WHERE key NOT GLOB 'onetwo:*'").fetchall()
        (first, key1), (second, key2) = rows[0], rows[1]
        con.execute("UPDATE Cache SET key = 'x' WHERE rowid = ?", (first,))
        con.execute("UPDATE Cache SET key = ? WHERE rowid = ?", (key1, second))
        con.execute("UPDATE Cache SET key = ? WHERE rowid = ?", (key2, first))
    con.close()
    seen = _use(folder)
    assert seen["errors"] >= 2 and seen["right"] == len(PROMPTS) - 2, seen
