"""HotpotQA loading: the rows API paged and cached (a real server on 127.0.0.1), local
files in both shapes, the errors, and examples that ``ot.evaluate`` takes as they are."""

from __future__ import annotations

import json
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import pytest

from onetwo import ot
from onetwo.backends import RetryPolicy
from onetwo.backends.fake import FakeBackend
from onetwo.builtins import llm
from onetwo.errors import InvalidArgumentError, NetworkBlocked, OneTwoError
from onetwo.evaluation import datasets
from onetwo.evaluation.datasets import DatasetError, HotpotQADatasetLoader
from onetwo.stdlib.retrieval.retrieval_data_structures import Document
from tests.rig.clock import RecordingClock
from tests.rig.loopback import JSONHandler, LoopbackServer


def official(i: int, shared: str = "Shared") -> dict[str, Any]:
    """Question ``i`` in the official HotpotQA file's shape (its paragraph ``P{i}`` and
    a paragraph ``shared`` whose text depends on ``i``: the first one seen must be kept)."""
    return {
        "_id": f"id{i}",
        "question": f"Question {i}?",
        "answer": f"answer {i}",
        "type": "bridge" if i % 2 else "comparison",
        "level": "hard",
        "supporting_facts": [[f"P{i}", 0], [shared, 1]],
        "context": [
            [f"P{i}", [f"P{i} first.", f" P{i} second."]],
            [shared, [f"{shared} as seen by {i}."]],
        ],
    }


def hf_row(i: int, shared: str = "Shared") -> dict[str, Any]:
    """Question ``i`` as the Hugging Face dataset (and its rows API) has it."""
    o = official(i, shared)
    return {
        "id": o["_id"],
        **{k: o[k] for k in ("question", "answer", "type", "level")},
        "supporting_facts": {
            "title": [t for t, _ in o["supporting_facts"]],
            "sent_id": [s for _, s in o["supporting_facts"]],
        },
        "context": {
            "title": [t for t, _ in o["context"]],
            "sentences": [s for _, s in o["context"]],
        },
    }


class RowsHandler(JSONHandler):
    owner: RowsServer

    def do_GET(self) -> None:
        server = self.owner
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        server.requests.append(query)
        if server.redirect is not None:
            self.send_response(302)
            self.send_header("Location", server.redirect)
            self.send_header("Content-Length", "0")
            self.end_headers()
            server.redirect = None
            return
        if server.fail is not None and server.fail_times != 0:
            server.fail_times -= 1  # below 0: every request fails
            if server.retry_after is None:
                self.send_json(server.fail[0], server.fail[1])
                return
            data = json.dumps(server.fail[1]).encode()
            self.send_response(server.fail[0])
            self.send_header("Retry-After", server.retry_after)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        offset, length = int(query["offset"]), int(query["length"])
        assert url.path == "/rows" and length <= 100, self.path
        page = []
        for i in range(offset, min(offset + length, len(server.rows))):
            cut = i in server.truncate_when_more_than and length > server.truncate_when_more_than[i]
            row = {**server.rows[i], "context": "{'title': ['P..."} if cut else server.rows[i]
            page.append({"row_idx": i, "row": row, "truncated_cells": ["context"] if cut else []})
        features = [{"feature_idx": 0, "name": "id", "type": {"dtype": "string", "_type": "Value"}}]
        self.send_json(
            200,
            {
                "features": features,
                "rows": page,
                "num_rows_total": len(server.rows),
                "num_rows_per_page": 100,
                "partial": False,
            },
        )


class RowsServer(LoopbackServer):
    """A dataset viewer's ``/rows``: ``rows`` paged as asked; ``requests`` made so far.

    ``truncate_when_more_than[i] = n``: row ``i`` comes back truncated in a page of more
    than ``n`` rows (as the real server cuts a page too big to send); ``fail``: answer
    the next ``fail_times`` requests (every one: -1) with this (status, JSON body), with
    a ``Retry-After`` header if ``retry_after`` is set; ``redirect``: send the next one
    there.
    """

    handler: ClassVar[type[JSONHandler]] = RowsHandler

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows
        self.requests: list[dict[str, str]] = []
        self.truncate_when_more_than: dict[int, int] = {}
        self.fail: tuple[int, Any] | None = None
        self.fail_times = -1
        self.retry_after: str | None = None
        self.redirect: str | None = None

    def pages(self) -> list[tuple[int, int]]:
        return [(int(q["offset"]), int(q["length"])) for q in self.requests]


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test reads or writes the user's cache, nor follows an endpoint they set."""
    monkeypatch.setenv(datasets.CACHE_ENV, str(tmp_path / "env-cache"))
    monkeypatch.delenv(datasets.ENDPOINT_ENV, raising=False)
    return tmp_path / "env-cache"


@pytest.fixture
def server() -> Iterator[RowsServer]:
    running = RowsServer([hf_row(i) for i in range(250)]).start()
    yield running
    running.stop()


def loader(server: RowsServer, tmp_path: Path, **kwargs: Any) -> HotpotQADatasetLoader:
    kwargs.setdefault("retry", RetryPolicy(clock=RecordingClock()))  # retries wait no time
    return HotpotQADatasetLoader(endpoint=server.url, cache_dir=tmp_path / "cache", **kwargs)


# --- what is loaded --------------------------------------------------------------------------


def test_the_defaults_are_the_references() -> None:
    default = HotpotQADatasetLoader()
    assert (default.name, default.split, default.max_number_of_examples) == (
        "fullwiki",
        "validation",
        None,
    )
    assert isinstance(default, datasets.DatasetLoader)


def test_examples_have_the_question_answer_and_metadata(server: RowsServer, tmp_path: Path) -> None:
    examples = ot.run(loader(server, tmp_path, max_number_of_examples=2).load_examples())
    assert examples == [
        {
            datasets.EXAMPLE_FIELD_QUESTION: f"Question {i}?",
            datasets.EXAMPLE_FIELD_ANSWER: f"answer {i}",
            datasets.EXAMPLE_FIELD_METADATA: {
                "id": f"id{i}",
                "type": ["comparison", "bridge"][i % 2],
                "level": "hard",
                datasets.EXAMPLE_METADATA_FIELD_GOLDEN_DOC_IDS: {
                    "title": [f"P{i}", "Shared"],
                    "sent_id": [0, 1],
                },
            },
        }
        for i in range(2)
    ]
    assert server.requests[0] == {
        "dataset": "hotpotqa/hotpot_qa",
        "config": "fullwiki",
        "split": "validation",
        "offset": "0",
        "length": "2",
    }


def test_one_document_per_title_the_first_seen_kept(server: RowsServer, tmp_path: Path) -> None:
    documents = ot.run(loader(server, tmp_path, max_number_of_examples=3).load_documents())
    assert documents == [
        Document(doc_id="P0", title="P0", content="P0 first.  P0 second."),
        Document(doc_id="Shared", title="Shared", content="Shared as seen by 0."),
        Document(doc_id="P1", title="P1", content="P1 first.  P1 second."),
        Document(doc_id="P2", title="P2", content="P2 first.  P2 second."),
    ]


def test_documents_come_only_from_the_questions_loaded(server: RowsServer, tmp_path: Path) -> None:
    one = ot.run(loader(server, tmp_path, max_number_of_examples=1).load_documents())
    assert [d.doc_id for d in one] == ["P0", "Shared"]


# --- paging and the cache ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("limit", "pages"),
    [
        (5, [(0, 5)]),
        (100, [(0, 100)]),
        (150, [(0, 100), (100, 50)]),
        (None, [(0, 100), (100, 100), (200, 100)]),  # the last one has 50: the end
        (400, [(0, 100), (100, 100), (200, 100)]),
    ],
)
def test_only_the_pages_needed_are_requested(
    server: RowsServer, tmp_path: Path, limit: int | None, pages: list[tuple[int, int]]
) -> None:
    examples = ot.run(loader(server, tmp_path, max_number_of_examples=limit).load_examples())
    assert [e["question"] for e in examples] == [f"Question {i}?" for i in range(limit or 250)][
        :250
    ]
    assert server.pages() == pages


def test_a_second_loader_reads_the_cache_with_the_server_stopped(
    server: RowsServer, tmp_path: Path
) -> None:
    first = loader(server, tmp_path, max_number_of_examples=120)
    examples, documents = ot.run(first.load_examples()), ot.run(first.load_documents())
    assert server.pages() == [(0, 100), (100, 20)]  # the documents came from the cache
    server.stop()
    again = HotpotQADatasetLoader(
        endpoint=first.endpoint, cache_dir=first.cache_dir, max_number_of_examples=120
    )
    assert ot.run(again.load_examples()) == examples
    assert ot.run(again.load_documents()) == documents
    fewer = HotpotQADatasetLoader(
        endpoint=first.endpoint, cache_dir=first.cache_dir, max_number_of_examples=7
    )
    assert ot.run(fewer.load_examples()) == examples[:7]


def test_a_progress_bar_shows_a_load_of_more_than_one_page(
    server: RowsServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ot.run(loader(server, tmp_path, max_number_of_examples=30).load_examples())
    assert capsys.readouterr().err == ""  # one page: no bar
    ot.run(loader(server, tmp_path, max_number_of_examples=230).load_examples())
    assert "HotpotQA rows: 100%|██████████| 230/230" in capsys.readouterr().err
    quiet = loader(server, tmp_path / "quiet", max_number_of_examples=230, progress=False)
    ot.run(quiet.load_examples())
    assert capsys.readouterr().err == ""


def test_a_longer_run_fetches_only_what_the_cache_lacks(server: RowsServer, tmp_path: Path) -> None:
    ot.run(loader(server, tmp_path, max_number_of_examples=5).load_examples())
    ot.run(loader(server, tmp_path, max_number_of_examples=130).load_examples())
    ot.run(loader(server, tmp_path, max_number_of_examples=130).load_examples())
    assert server.pages() == [(0, 5), (0, 100), (100, 30)]


def test_pages_are_kept_per_configuration_and_split(server: RowsServer, tmp_path: Path) -> None:
    ot.run(loader(server, tmp_path, max_number_of_examples=3).load_examples())
    ot.run(loader(server, tmp_path, name="distractor", max_number_of_examples=3).load_examples())
    assert [q["config"] for q in server.requests] == ["fullwiki", "distractor"]
    cache = tmp_path / "cache"
    kept = sorted(str(p.relative_to(cache)) for p in cache.rglob("*.json*"))
    [server_folder] = [p.name for p in cache.iterdir()]  # the test server's own folder
    assert server_folder.startswith("hotpotqa__hotpot_qa@")
    assert kept == [
        f"{server_folder}/distractor/validation/rows-00000000.json",
        f"{server_folder}/fullwiki/validation/rows-00000000.json",
    ]  # and no temporary file left behind


def test_two_loads_at_once_share_the_cache_folder(server: RowsServer, tmp_path: Path) -> None:
    both = loader(server, tmp_path, max_number_of_examples=150)
    examples, documents = ot.run(ot.parallel(both.load_examples(), both.load_documents()))
    assert len(examples) == 150 and len(documents) == 151  # 150 own paragraphs + "Shared"
    assert sorted(p.name for p in both.cache_folder().iterdir()) == [
        "rows-00000000.json",
        "rows-00000100.json",
    ]
    server.stop()
    assert ot.run(both.load_examples()) == examples


def test_a_damaged_page_in_the_cache_is_fetched_again(server: RowsServer, tmp_path: Path) -> None:
    first = loader(server, tmp_path, max_number_of_examples=3)
    examples = ot.run(first.load_examples())
    (first.cache_folder() / "rows-00000000.json").write_text('{"rows": [', encoding="utf-8")
    assert ot.run(first.load_examples()) == examples
    assert server.pages() == [(0, 3), (0, 3)]


def test_the_cache_folder_defaults_to_the_environment_variable(
    server: RowsServer, own_cache: Path
) -> None:
    env_loader = HotpotQADatasetLoader(endpoint=server.url, max_number_of_examples=1)
    assert env_loader.cache_folder().parent.parent.parent == own_cache
    ot.run(env_loader.load_examples())
    assert (env_loader.cache_folder() / "rows-00000000.json").is_file()
    # Hugging Face's rows have a folder of their own: a test server's never stand in.
    default = HotpotQADatasetLoader(max_number_of_examples=1).cache_folder()
    assert default == own_cache / "hotpotqa__hotpot_qa/fullwiki/validation"
    assert default != env_loader.cache_folder() and not default.exists()


def test_the_endpoint_can_come_from_the_environment(
    server: RowsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(datasets.ENDPOINT_ENV, server.url)
    examples = ot.run(HotpotQADatasetLoader(max_number_of_examples=1).load_examples())
    assert examples[0]["question"] == "Question 0?"
    assert server.pages() == [(0, 1)]


FIXTURE_CACHE = Path(__file__).parent / "hotpotqa_cache"  # 5 synthetic validation questions


@pytest.mark.parametrize("limit", [None, 5, 2])
def test_a_kept_cache_folder_replays_offline_with_the_default_endpoint(
    monkeypatch: pytest.MonkeyPatch, limit: int | None
) -> None:
    monkeypatch.setenv(datasets.CACHE_ENV, str(FIXTURE_CACHE))  # as a notebook run would
    replay = HotpotQADatasetLoader(max_number_of_examples=limit)  # the guard is on: no network
    examples = ot.run(replay.load_examples())
    assert [e["answer"] for e in examples] == [
        "Seine",
        "Statue of Liberty",
        "Africa",
        "the Himalayas",
        "Danube",
    ][:limit]
    titles = [d.title for d in ot.run(replay.load_documents())]
    assert titles[:4] == ["France", "Paris", "Seine", "Eiffel Tower"]
    assert len(titles) == len(set(titles))


def test_a_page_too_big_for_the_server_is_asked_in_halves(
    server: RowsServer, tmp_path: Path
) -> None:
    server.truncate_when_more_than = {3: 2}  # row 3 is cut in a page of more than 2 rows
    examples = ot.run(loader(server, tmp_path, max_number_of_examples=8).load_examples())
    assert [e["question"] for e in examples] == [f"Question {i}?" for i in range(8)]
    assert server.pages() == [(0, 8), (0, 4), (0, 2), (2, 2), (4, 4)]


def test_a_row_truncated_even_alone_is_an_error(server: RowsServer, tmp_path: Path) -> None:
    server.truncate_when_more_than = {1: 0}
    with pytest.raises(DatasetError, match=r"truncated the cells \['context'\] of row 1") as e:
        ot.run(loader(server, tmp_path, max_number_of_examples=2).load_examples())
    assert "source=" in str(e.value) and "offset=1" in e.value.source


# --- errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "wiki"}, r"unknown name 'wiki'; .* 'distractor' and 'fullwiki'"),
        ({"name": "distractor", "split": "test"}, r"'distractor' has no split 'test'"),
        ({"split": "dev"}, r"no split 'dev'; pass split= one of 'train', 'validation', 'test'"),
        ({"max_number_of_examples": 0}, r"at least 1, or None .*; got 0"),
        ({"max_number_of_examples": -3}, r"got -3"),
        ({"max_number_of_examples": 2.5}, r"got 2.5"),
        ({"max_number_of_examples": True}, r"got True"),
    ],
)
def test_bad_arguments_say_what_to_pass(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message) as e:
        HotpotQADatasetLoader(**kwargs)
    assert isinstance(e.value, ValueError)


def test_a_busy_server_is_asked_again_as_a_backend_would_be(
    server: RowsServer, tmp_path: Path
) -> None:
    clock = RecordingClock()
    server.fail, server.fail_times, server.retry_after = (429, {"error": "Slow down"}), 2, "7"
    examples = ot.run(
        loader(server, tmp_path, max_number_of_examples=2, retry=RetryPolicy(clock=clock))
        .load_examples()
    )  # fmt: skip
    assert [e["question"] for e in examples] == ["Question 0?", "Question 1?"]
    assert server.pages() == [(0, 2)] * 3 and clock.sleeps == [7.0, 7.0]  # as it asked


def test_a_request_that_cannot_succeed_is_not_sent_again(
    server: RowsServer, tmp_path: Path
) -> None:
    server.fail = (404, {"error": "Not found."})
    with pytest.raises(DatasetError, match="answered HTTP 404: Not found"):
        ot.run(loader(server, tmp_path, max_number_of_examples=2).load_examples())
    assert len(server.requests) == 1


def test_an_error_status_says_the_url_and_the_servers_reason(
    server: RowsServer, tmp_path: Path
) -> None:
    server.fail = (500, {"error": "The parquet files are not ready."})
    with pytest.raises(
        DatasetError, match="answered HTTP 500: The parquet files are not ready"
    ) as e:
        ot.run(loader(server, tmp_path, max_number_of_examples=2).load_examples())
    assert e.value.source == f"{server.url}/rows?" + (
        "dataset=hotpotqa%2Fhotpot_qa&config=fullwiki&split=validation&offset=0&length=2"
    )
    assert e.value.source in str(e.value) and "pass source=" in str(e.value)


def test_no_network_says_the_url_and_how_to_work_offline(
    server: RowsServer, tmp_path: Path
) -> None:
    url = server.url
    server.stop()  # nothing listens on that port any more
    clock = RecordingClock()
    unreachable = HotpotQADatasetLoader(
        endpoint=url, cache_dir=tmp_path, retry=RetryPolicy(attempts=3, clock=clock)
    )
    with pytest.raises(DatasetError, match="Could not download HotpotQA rows from") as e:
        ot.run(unreachable.load_examples())
    assert url in str(e.value) and "pass source=<a local HotpotQA file>" in str(e.value)
    assert isinstance(e.value, OneTwoError)
    assert len(clock.sleeps) == 2  # tried three times, as a backend's request is


def test_the_default_endpoint_is_refused_by_the_network_guard(tmp_path: Path) -> None:
    with pytest.raises(NetworkBlocked, match=r"datasets-server\.huggingface\.co"):
        ot.run(HotpotQADatasetLoader(cache_dir=tmp_path).load_examples())


def test_a_redirect_is_followed_on_loopback_and_guarded_elsewhere(
    server: RowsServer, tmp_path: Path
) -> None:
    server.redirect = f"{server.url}/rows?dataset=x&config=y&split=z&offset=0&length=1"
    examples = ot.run(loader(server, tmp_path, max_number_of_examples=2).load_examples())
    assert [e["question"] for e in examples] == ["Question 0?", "Question 1?"]
    assert server.pages() == [(0, 2), (0, 1), (1, 1)]  # the redirect's page was one row
    server.redirect = "http://10.255.0.1/rows"
    with pytest.raises(NetworkBlocked, match=r"10\.255\.0\.1"):
        ot.run(loader(server, tmp_path / "other", max_number_of_examples=2).load_examples())


def test_an_answer_that_is_not_a_rows_page_is_an_error(server: RowsServer, tmp_path: Path) -> None:
    server.fail = (200, {"items": []})
    with pytest.raises(DatasetError, match=r"without a 'rows' list .*\(keys: \['items'\]\)"):
        ot.run(loader(server, tmp_path, max_number_of_examples=2).load_examples())


def test_a_cache_folder_that_cannot_be_written_only_warns(
    server: RowsServer, tmp_path: Path
) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    bad = HotpotQADatasetLoader(endpoint=server.url, cache_dir=blocked, max_number_of_examples=1)
    with pytest.warns(UserWarning, match=r"pass cache_dir= .* a folder you can write to"):
        examples = ot.run(bad.load_examples())
    assert examples[0]["question"] == "Question 0?"  # the rows downloaded are not lost


def test_dataset_errors_pickle_with_their_fields() -> None:
    error = DatasetError("bad line", source="f.jsonl", line=3)
    clone = pickle.loads(pickle.dumps(error))
    assert (str(clone), clone.source, clone.line) == ("bad line", "f.jsonl", 3)


# --- local files ---------------------------------------------------------------------------------


def write_json_lines(path: Path, records: list[Any]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_both_file_shapes_load_as_the_rows_api_does(server: RowsServer, tmp_path: Path) -> None:
    listed = tmp_path / "hotpot_dev_fullwiki_v1.json"
    listed.write_text(json.dumps([official(i) for i in range(4)], indent=1), encoding="utf-8")
    lines = write_json_lines(tmp_path / "rows.jsonl", [hf_row(i) for i in range(4)])
    wrapped = write_json_lines(
        tmp_path / "api.jsonl", [{"row_idx": i, "row": hf_row(i)} for i in range(4)]
    )
    online = loader(server, tmp_path, max_number_of_examples=4)
    want = ot.run(online.load_examples()), ot.run(online.load_documents())
    for path in (listed, lines, wrapped):
        local = HotpotQADatasetLoader(source=path, max_number_of_examples=4)
        assert (ot.run(local.load_examples()), ot.run(local.load_documents())) == want, path
    assert len(server.requests) == 1


def test_a_file_loads_only_its_first_questions(tmp_path: Path) -> None:
    path = write_json_lines(tmp_path / "rows.jsonl", [hf_row(i) for i in range(5)] + ["junk"])
    examples = ot.run(HotpotQADatasetLoader(source=path, max_number_of_examples=2).load_examples())
    assert [e["question"] for e in examples] == ["Question 0?", "Question 1?"]
    with pytest.raises(DatasetError, match="line 6: expected a JSON object, got str 'junk'"):
        ot.run(HotpotQADatasetLoader(source=str(path)).load_examples())


def test_a_test_question_without_answer_loads_with_empty_fields(tmp_path: Path) -> None:
    record = {"_id": "t1", "question": "Who?", "answer": None, "context": [["T", ["Someone."]]]}
    path = write_json_lines(tmp_path / "test.jsonl", [record])
    (example,) = ot.run(HotpotQADatasetLoader(source=path).load_examples())
    assert example == {
        "question": "Who?",
        "answer": "",
        "metadata": {
            "id": "t1",
            "type": "",
            "level": "",
            "golden_doc_ids": {"title": [], "sent_id": []},
        },
    }


def test_a_malformed_json_list_says_where(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('[\n  {"question": "Q?",\n   "context": [}\n]', encoding="utf-8")
    with pytest.raises(DatasetError, match=r"broken.json, line 3: not valid JSON at column") as e:
        ot.run(HotpotQADatasetLoader(source=path).load_examples())
    assert (e.value.line, e.value.source) == (3, str(path))


def test_a_malformed_json_line_says_which(tmp_path: Path) -> None:
    path = tmp_path / "broken.jsonl"
    path.write_text(json.dumps(hf_row(0)) + "\n\n" + '{"question": \n', encoding="utf-8")
    with pytest.raises(DatasetError, match=r"broken.jsonl, line 3: not valid JSON") as e:
        ot.run(HotpotQADatasetLoader(source=path).load_examples())
    assert e.value.line == 3


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"question": None}, r"'question' should be text, got NoneType"),
        ({"context": "P0"}, r"expected \{'title': \[...\], 'sentences': \[...\]\} or pairs"),
        ({"context": {"title": ["A"], "sentences": []}}, r"'title' should be texts, as many as"),
        ({"context": {"title": ["A"], "sentences": ["A."]}}, r"sentences should be lists of"),
        ({"supporting_facts": [["A", "0"]]}, r"sent_id should be whole numbers"),
    ],
)
def test_a_malformed_question_says_which_field(
    tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    path = write_json_lines(tmp_path / "q.jsonl", [hf_row(0), {**hf_row(1), **change}])
    with pytest.raises(DatasetError, match=f"q.jsonl, line 2: .*{message}") as e:
        ot.run(HotpotQADatasetLoader(source=path).load_examples())
    assert e.value.line == 2


def test_a_question_without_context_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "q.json"
    path.write_text(json.dumps([{"question": "Q?"}]), encoding="utf-8")
    with pytest.raises(DatasetError, match=r"question 0 of the list: no 'context' field"):
        ot.run(HotpotQADatasetLoader(source=path).load_examples())


def test_a_missing_file_says_what_to_pass(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"source=.*nowhere.json'\): no such file"):
        ot.run(HotpotQADatasetLoader(source=tmp_path / "nowhere.json").load_examples())


# --- into ot.evaluate --------------------------------------------------------------------------


@ot.make_executable
async def answer(question: str) -> str:
    return await llm.generate_text(f"Q: {question}\nA:")


def test_the_examples_feed_evaluate_with_its_default_extractors(
    server: RowsServer, tmp_path: Path
) -> None:
    examples = ot.run(loader(server, tmp_path, max_number_of_examples=4).load_examples())
    fake = FakeBackend(regex_replies=[(r"Question [02]\?", "answer 0")], default_reply="no")
    fake.register()
    summary = ot.evaluate(
        answer,
        examples,
        metric_functions={"exact": lambda target, prediction: prediction == target},
        progress=False,
    )
    assert summary.metrics == {"exact": 0.25}  # only question 0's reply is its answer
    assert sorted(fake.prompts) == [f"Q: Question {i}?\nA:" for i in range(4)]
    assert summary.results[2].target == "answer 2"
