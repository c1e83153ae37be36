"""Datasets: a question-answering benchmark as evaluation examples and a retrieval corpus.

A dataset loader turns a benchmark into what the rest of onetwo takes in: *examples*,
dicts with ``"question"``, ``"answer"`` and ``"metadata"`` (the keys the default
extractors of ``ot.evaluate`` read), and, for retrieval QA, the *corpus*, a list of
:class:`~onetwo.stdlib.retrieval.retrieval_data_structures.Document`. Both come from
executables, so ``ot.run`` (or ``await``) loads them.

:class:`HotpotQADatasetLoader` loads HotpotQA, multi-hop questions over Wikipedia
paragraphs. By default it pages through the Hugging Face dataset viewer's rows API
(dataset ``hotpotqa/hotpot_qa``), asking only for the rows ``max_number_of_examples``
needs, and keeps each page in a cache folder (``cache_dir``, else
``$ONETWO_DATASETS_CACHE``, else ``~/.cache/onetwo/datasets``): a rerun, or the replay
of a notebook, reads the same rows back with no network. With ``source=`` it reads a
local file and never goes online: the official HotpotQA JSON (a list of records whose
``context`` is ``[[title, [sentences]], ...]``), or JSON lines of rows as the Hugging
Face dataset has them. Set ``$ONETWO_DATASETS_ENDPOINT`` (or ``endpoint=``) to use
another server with the same API, e.g. a mirror (its pages are kept in a folder of their
own). A cache folder that cannot be written only warns: the rows are still loaded.

Every request goes through the network guard (:mod:`onetwo.backends.network`), so under
the test suite only a server on 127.0.0.1 (or the cache) is used, and is retried as a
backend's request is (``retry=``, a :class:`~onetwo.backends.RetryPolicy`: 408, 429 and
5xx answers and dropped connections, with backoff or the server's ``retry-after``). A
page the server truncated (too big to send) is asked for again in halves; rows are never
kept cut. What cannot be loaded raises :class:`DatasetError`, saying what failed and what
to do.

Example:
    >>> from onetwo import ot
    >>> from onetwo.evaluation import datasets
    >>> loader = datasets.HotpotQADatasetLoader(split="validation", max_number_of_examples=5)
    >>> examples = ot.run(loader.load_examples())  # doctest: +SKIP
    >>> sorted(examples[0])  # doctest: +SKIP
    ['answer', 'metadata', 'question']
    >>> documents = ot.run(loader.load_documents())  # doctest: +SKIP

Not for the whole of a large split over a slow network: ``max_number_of_examples=None``
downloads every page (75 requests for the 7,405 validation questions); download the
official file once instead and pass ``source=``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import http.client
import json
import os
import urllib.error
import urllib.parse
import urllib.request
import warnings
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any, Protocol, TypeVar, runtime_checkable

from onetwo.backends import network
from onetwo.backends._common import http_error
from onetwo.backends._retry import RetryPolicy, parse_retry_after
from onetwo.core.builtin import in_sync_pool
from onetwo.core.executable import Executable, make_executable
from onetwo.core.files import atomic_open
from onetwo.core.scheduling import progress_bar
from onetwo.errors import (
    BackendHTTPError,
    BackendTimeout,
    BackendUnavailable,
    InvalidArgumentError,
    NetworkBlocked,
    OneTwoError,
)
from onetwo.stdlib.retrieval.retrieval_data_structures import Document

__all__ = [
    "CACHE_ENV",
    "DEFAULT_ENDPOINT",
    "ENDPOINT_ENV",
    "EXAMPLE_FIELD_ANSWER",
    "EXAMPLE_FIELD_METADATA",
    "EXAMPLE_FIELD_QUESTION",
    "EXAMPLE_METADATA_FIELD_GOLDEN_DOC_IDS",
    "DatasetError",
    "DatasetLoader",
    "HotpotQADatasetLoader",
]

EXAMPLE_FIELD_QUESTION = "question"
"""An example's question: what the strategy is asked."""

EXAMPLE_FIELD_ANSWER = "answer"
"""An example's reference answer: what the metrics compare the prediction with."""

EXAMPLE_FIELD_METADATA = "metadata"
"""An example's other facts, a dict (for HotpotQA: ``id``, ``type``, ``level``...)."""

EXAMPLE_METADATA_FIELD_GOLDEN_DOC_IDS = "golden_doc_ids"
"""The metadata key of the documents that hold the answer (HotpotQA: its supporting
facts, ``{"title": [...], "sent_id": [...]}``; a title is a document's ``doc_id``)."""

DEFAULT_ENDPOINT = "https://datasets-server.huggingface.co"
"""The Hugging Face dataset viewer, whose ``/rows`` API serves a split page by page."""

ENDPOINT_ENV = "ONETWO_DATASETS_ENDPOINT"
"""The environment variable that replaces :data:`DEFAULT_ENDPOINT` (a mirror, a test)."""

CACHE_ENV = "ONETWO_DATASETS_CACHE"
"""The environment variable naming the folder of downloaded pages."""

_PAGE = 100  # rows per request: the most the rows API returns at once
_TIMEOUT = 60.0
_HF_DATASET = "hotpotqa/hotpot_qa"
_SPLITS = {"distractor": ("train", "validation"), "fullwiki": ("train", "validation", "test")}
_OFFLINE = "pass source=<a local HotpotQA file> to work offline"

_Example = TypeVar("_Example")
_Row = dict[str, Any]  # one question in the Hugging Face shape (see _row)


class DatasetError(OneTwoError):
    """A dataset could not be loaded: no network, a server error, a malformed file.

    Attributes:
        source: the URL or file it was loading.
        line: the 1-based line of the file where it went wrong, if known.
    """

    def __init__(self, message: str, *, source: str = "", line: int | None = None) -> None:
        super().__init__(message)
        self.source = source
        self.line = line


@runtime_checkable
class DatasetLoader(Protocol[_Example]):
    """What loads a dataset: ``load_examples()``, an executable of its examples."""

    def load_examples(self) -> Executable[Iterable[_Example]]:
        """The examples (for QA: dicts with the ``EXAMPLE_FIELD_*`` keys)."""
        ...


@dataclasses.dataclass
class HotpotQADatasetLoader(DatasetLoader[dict[str, Any]]):
    """HotpotQA's questions as evaluation examples, its context paragraphs as documents.

    Each example is ``{"question", "answer", "metadata": {"id", "type", "level",
    "golden_doc_ids"}}``; each document is one context paragraph, whose ``doc_id`` and
    ``title`` are the paragraph's title and whose ``content`` is its sentences joined
    with spaces. A paragraph in the context of several questions is one document (the
    first one seen).

    Attributes:
        name: the configuration, ``"fullwiki"`` or ``"distractor"``.
        split: ``"train"``, ``"validation"`` or (fullwiki only) ``"test"``.
        max_number_of_examples: load only the first N questions (and their
            paragraphs); ``None`` loads the whole split.
        source: a local HotpotQA file to read instead of downloading (the official JSON,
            or JSON lines of Hugging Face rows).
        cache_dir: the folder of downloaded pages (default: see the module docstring).
        endpoint: the rows API's base URL (default ``$ONETWO_DATASETS_ENDPOINT``, else
            :data:`DEFAULT_ENDPOINT`).
        progress: show a progress bar while loading more than one page of rows.
        retry: how a failed request (HTTP 408, 429, 5xx, a dropped connection) is sent
            again: the backends' policy, 5 attempts with backoff by default.
    """

    name: str = "fullwiki"
    split: str = "validation"
    max_number_of_examples: int | None = None
    source: str | os.PathLike[str] | None = None
    cache_dir: str | os.PathLike[str] | None = None
    endpoint: str | None = None
    progress: bool = True
    retry: RetryPolicy | None = None

    def __post_init__(self) -> None:
        if self.name not in _SPLITS:
            raise InvalidArgumentError(
                f"HotpotQADatasetLoader: unknown name {self.name!r}; HotpotQA's "
                f"configurations are {' and '.join(map(repr, _SPLITS))}."
            )
        if self.split not in _SPLITS[self.name]:
            raise InvalidArgumentError(
                f"HotpotQADatasetLoader: {self.name!r} has no split {self.split!r}; pass "
                f"split= one of {', '.join(map(repr, _SPLITS[self.name]))}."
            )
        n = self.max_number_of_examples
        if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n < 1):
            raise InvalidArgumentError(
                f"HotpotQADatasetLoader: max_number_of_examples must be a whole number of "
                f"at least 1, or None for the whole split; got {n!r}."
            )

    @make_executable
    async def load_examples(self) -> list[dict[str, Any]]:
        """The questions as examples for ``ot.evaluate``, in the dataset's order."""
        return [_example(row) for row in await self._rows()]

    @make_executable
    async def load_documents(self) -> list[Document]:
        """The loaded questions' context paragraphs, one document per title."""
        documents: dict[str, Document] = {}
        for row in await self._rows():
            context = row["context"]
            for title, sentences in zip(context["title"], context["sentences"], strict=True):
                if title not in documents:
                    content = " ".join(sentences)
                    documents[title] = Document(doc_id=title, title=title, content=content)
        return list(documents.values())

    async def _rows(self) -> list[_Row]:
        if self.source is not None:
            return await in_sync_pool(
                _read_file, path=Path(self.source), limit=self.max_number_of_examples
            )
        return await self._download()

    def cache_folder(self) -> Path:
        """Where this configuration and split's downloaded pages are kept (a server other
        than :data:`DEFAULT_ENDPOINT` has a folder of its own: a test server's rows never
        stand in for Hugging Face's)."""
        if self.cache_dir is not None:
            root = Path(self.cache_dir)
        elif os.environ.get(CACHE_ENV):
            root = Path(os.environ[CACHE_ENV])
        else:
            xdg = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
            root = Path(xdg) / "onetwo" / "datasets"
        dataset = _HF_DATASET.replace("/", "__")
        endpoint = self._endpoint().rstrip("/")
        if endpoint != DEFAULT_ENDPOINT:
            dataset += "@" + hashlib.sha256(endpoint.encode()).hexdigest()[:12]
        return root.expanduser() / dataset / self.name / self.split

    def _endpoint(self) -> str:
        return self.endpoint or os.environ.get(ENDPOINT_ENV) or DEFAULT_ENDPOINT

    async def _download(self) -> list[_Row]:
        pages = _Pages(
            endpoint=self._endpoint(),
            folder=self.cache_folder(),
            query={"dataset": _HF_DATASET, "config": self.name, "split": self.split},
            retry=self.retry or RetryPolicy(),
        )
        limit, total, bar = self.max_number_of_examples, None, None
        rows: list[_Row] = []
        try:
            while (limit is None or len(rows) < limit) and (total is None or len(rows) < total):
                want = min(limit - len(rows), _PAGE) if limit is not None else _PAGE
                page, total = await pages.get(len(rows), want)
                if not page:  # the server says there are more, but gives none: stop here
                    break
                rows += page
                goal = total if limit is None else min(limit, total)
                if self.progress and bar is None and goal > len(rows):  # more pages to come
                    bar = progress_bar("HotpotQA rows", goal)
                    bar.update(len(rows))
                elif bar is not None:
                    bar.update(len(page))
        finally:
            if bar is not None:
                bar.close()
        return rows


def _example(row: _Row) -> dict[str, Any]:
    return {
        EXAMPLE_FIELD_QUESTION: row["question"],
        EXAMPLE_FIELD_ANSWER: row["answer"],
        EXAMPLE_FIELD_METADATA: {
            "id": row["id"],
            "type": row["type"],
            "level": row["level"],
            EXAMPLE_METADATA_FIELD_GOLDEN_DOC_IDS: row["supporting_facts"],
        },
    }


# --- the rows API, page by page, through the cache folder --------------------------------


@dataclasses.dataclass
class _Pages:
    """The pages of one split: read from ``folder`` if there, else downloaded and kept."""

    endpoint: str
    folder: Path
    query: dict[str, str]
    retry: RetryPolicy

    async def get(self, offset: int, length: int) -> tuple[list[_Row], int]:
        """Rows ``offset`` to ``offset + length`` (fewer at the end), and the split's size."""
        path = self.folder / f"rows-{offset:08d}.json"
        cached = await in_sync_pool(_read_page, path=path)
        if cached is not None:
            rows, total = cached
            if len(rows) >= length or offset + len(rows) >= total:
                return rows[:length], total
        rows, total = await self._fetch(offset, length)
        try:
            await in_sync_pool(_keep_page, path=path, data={"num_rows_total": total, "rows": rows})
        except DatasetError as e:  # the rows are here: a cache that cannot be kept only warns
            warnings.warn(
                f"{e} The rows are loaded, but a rerun downloads them again.", stacklevel=2
            )
        return rows, total

    def url(self, offset: int, length: int) -> str:
        query = urllib.parse.urlencode({**self.query, "offset": offset, "length": length})
        return f"{self.endpoint.rstrip('/')}/rows?{query}"

    async def _fetch(self, offset: int, length: int) -> tuple[list[_Row], int]:
        url = self.url(offset, length)
        payload = await self._get(url)
        items, total = payload.get("rows"), payload.get("num_rows_total")
        if not isinstance(items, list) or not isinstance(total, int):
            raise DatasetError(
                f"{url} answered JSON without a 'rows' list and a 'num_rows_total' number "
                f"(keys: {sorted(payload)}): not a Hugging Face dataset viewer; point "
                f"endpoint= (or ${ENDPOINT_ENV}) at one, or {_OFFLINE}.",
                source=url,
            )
        truncated = [i for i in items if isinstance(i, dict) and i.get("truncated_cells")]
        if truncated and length > 1:  # the page was too big for the server: ask in halves
            first, _ = await self._fetch(offset, length // 2)
            second, total = await self._fetch(offset + length // 2, length - length // 2)
            return first + second, total
        if truncated:
            raise DatasetError(
                f"{url}: the server truncated the cells {truncated[0]['truncated_cells']} of "
                f"row {offset} even alone, and a truncated row would lose data; {_OFFLINE}.",
                source=url,
            )
        return [_row(item, f"{url}, row {offset + i}", url) for i, item in enumerate(items)], total

    async def _get(self, url: str) -> dict[str, Any]:
        """The JSON at ``url``, retried as the backends retry (408, 429, 5xx, dropped
        connections: backoff with jitter, or the server's ``retry-after``)."""
        try:
            return await self.retry.call(lambda: in_sync_pool(_get_json, url=url), what=url)
        except BackendHTTPError as e:
            raise DatasetError(
                f"{url} answered HTTP {e.status}: {e.body}. Try again later (the pages "
                f"already downloaded are kept), or {_OFFLINE}.",
                source=url,
            ) from e
        except (BackendUnavailable, BackendTimeout) as e:
            raise DatasetError(
                f"Could not download HotpotQA rows from {url}: {e}. Check the network "
                f"connection, or {_OFFLINE}.",
                source=url,
            ) from e


class _GuardedRedirects(urllib.request.HTTPRedirectHandler):
    """Redirects are checked by the network guard too, like the first request."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: Any,
        newurl: str,
    ) -> urllib.request.Request | None:
        try:
            network.check_url(newurl)
        except NetworkBlocked:
            fp.close()  # urllib closes the redirect's answer only when it follows it
            raise
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _get_json(url: str) -> dict[str, Any]:
    network.check_url(url)
    handlers: list[urllib.request.BaseHandler] = [_GuardedRedirects()]
    if network.is_loopback_url(url):  # a server on this machine: no environment proxies
        handlers.append(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(
        url, headers={"Accept": "application/json", "User-Agent": "onetwo-datasets"}
    )
    try:
        with urllib.request.build_opener(*handlers).open(request, timeout=_TIMEOUT) as answer:
            body = answer.read()
    except urllib.error.HTTPError as e:  # as the backends' errors, for RetryPolicy
        with e:
            detail = _error_detail(e.read())
        retry_after = parse_retry_after(dict(e.headers.items()))
        raise http_error(e.code, detail, source=url, retry_after=retry_after) from e
    except TimeoutError as e:
        raise BackendTimeout(f"no answer within {_TIMEOUT:.0f} s") from e
    except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
        raise BackendUnavailable(str(getattr(e, "reason", e))) from e
    try:
        payload = json.loads(body)
    except ValueError as e:
        raise DatasetError(
            f"{url} answered something that is not JSON ({body[:80]!r}); point endpoint= "
            f"(or ${ENDPOINT_ENV}) at a Hugging Face dataset viewer, or {_OFFLINE}.",
            source=url,
        ) from e
    if not isinstance(payload, dict):
        raise DatasetError(f"{url} answered {type(payload).__name__}, not a page.", source=url)
    return payload


def _error_detail(body: bytes) -> str:
    try:
        error = json.loads(body).get("error")
    except (ValueError, AttributeError):
        error = None
    return str(error) if error else body.decode("utf-8", "replace")[:200] or "no details"


def _read_page(path: Path) -> tuple[list[_Row], int] | None:
    """A kept page, or None if there is none (or it cannot be read: it is fetched again)."""
    try:
        page = json.loads(path.read_text(encoding="utf-8"))
        return [_row(r, str(path), str(path)) for r in page["rows"]], int(page["num_rows_total"])
    except (OSError, ValueError, KeyError, TypeError, DatasetError):
        return None


def _keep_page(path: Path, data: Any) -> None:
    """Keep a downloaded page as JSON (whole or not at all: two loaders may write it)."""
    try:
        with atomic_open(path, "w") as f:
            json.dump(data, f, ensure_ascii=False)
    except OSError as e:
        raise DatasetError(
            f"Could not keep the downloaded page in {path.parent} ({e}); pass cache_dir= (or "
            f"set ${CACHE_ENV} to) a folder you can write to.",
            source=str(path),
        ) from e


# --- local files ---------------------------------------------------------------------------


def _read_file(path: Path, limit: int | None) -> list[_Row]:
    """The first ``limit`` questions of a HotpotQA JSON list or JSON lines file."""
    try:
        with path.open(encoding="utf-8-sig") as f:
            first = f.read(1)
            while first.isspace():
                first = f.read(1)
            f.seek(0)
            records = _records(f, path, listed=first == "[")
            rows: list[_Row] = []
            for record, where, line in records:
                if limit is not None and len(rows) >= limit:
                    break
                rows.append(_row(record, where, str(path), line))
            return rows
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as e:
        raise DatasetError(
            f"HotpotQADatasetLoader(source={os.fspath(path)!r}): no such file. Pass the path "
            "of a HotpotQA file (the official JSON, e.g. hotpot_dev_fullwiki_v1.json, or "
            "JSON lines of Hugging Face rows), or source=None to download.",
            source=str(path),
        ) from e
    except UnicodeDecodeError as e:
        raise DatasetError(
            f"{path} is not UTF-8 text ({e}); a HotpotQA file is JSON.", source=str(path)
        ) from e


def _records(f: IO[str], path: Path, listed: bool) -> Iterator[tuple[Any, str, int | None]]:
    """(record, where it is, its line) for each question of a JSON list or JSON lines."""
    if listed:
        records = _parse(f.read(), path, None)
        if not isinstance(records, list):
            raise DatasetError(
                f"{path}: a JSON {type(records).__name__}, not a list of questions.",
                source=str(path),
            )
        for i, record in enumerate(records):
            yield record, f"{path}, question {i} of the list", None
        return
    for number, text in enumerate(f, 1):
        if text.strip():
            yield _parse(text, path, number), f"{path}, line {number}", number


def _parse(text: str, path: Path, number: int | None) -> Any:
    """``text`` as JSON (``number``: its line in the file, else it is the whole file)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        line = e.lineno if number is None else number
        raise DatasetError(
            f"{path}, line {line}: not valid JSON at column {e.colno}: {e.msg}. A HotpotQA "
            "file is a JSON list of questions, or JSON lines (one question, an object, a line).",
            source=str(path),
            line=line,
        ) from e


# --- one question, in either shape, to the Hugging Face row shape -----------------------------


def _row(record: Any, where: str, source: str, line: int | None = None) -> _Row:
    """One question in the Hugging Face shape, from that shape or the official one.

    The Hugging Face shape (also what the rows API wraps in ``{"row_idx", "row"}``):
    ``{"id", "question", "answer", "type", "level", "supporting_facts": {"title": [...],
    "sent_id": [...]}, "context": {"title": [...], "sentences": [[...], ...]}}``. The
    official files have ``_id``, and lists of pairs: ``"supporting_facts": [[title,
    sent_id], ...]``, ``"context": [[title, [sentences]], ...]``. Test questions have no
    answer, type, level or supporting facts (absent or null): they are empty.
    """

    def bad(what: str) -> DatasetError:
        return DatasetError(
            f"{where}: {what}. A HotpotQA question has a 'question' text and a 'context' "
            "([[title, [sentences]], ...], or {'title': [...], 'sentences': [[...], ...]}).",
            source=source,
            line=line,
        )

    if isinstance(record, dict) and isinstance(record.get("row"), dict):
        record = record["row"]
    if not isinstance(record, dict):
        raise bad(f"expected a JSON object, got {type(record).__name__} {record!r:.60}")
    if "question" not in record or "context" not in record:
        raise bad(f"no {'question' if 'question' not in record else 'context'!r} field")
    texts = {k: record.get(k) for k in ("answer", "type", "level")}
    texts["id"] = record.get("id", record.get("_id"))
    texts = {k: "" if v is None else v for k, v in texts.items()} | {"question": record["question"]}
    for key, value in texts.items():
        if not isinstance(value, str):
            raise bad(f"{key!r} should be text, got {type(value).__name__} {value!r:.60}")
    titles, sentences = _columns(record["context"], "title", "sentences", bad)
    if not all(isinstance(s, list) and all(isinstance(t, str) for t in s) for s in sentences):
        raise bad("the context's sentences should be lists of texts")
    fact_titles, sent_ids = _columns(record.get("supporting_facts") or [], "title", "sent_id", bad)
    if not all(isinstance(i, int) for i in sent_ids):
        raise bad("the supporting facts' sent_id should be whole numbers")
    return {
        **texts,
        "supporting_facts": {"title": fact_titles, "sent_id": sent_ids},
        "context": {"title": titles, "sentences": sentences},
    }


def _columns(
    value: Any, first: str, second: str, bad: Callable[[str], DatasetError]
) -> tuple[list[Any], list[Any]]:
    """``{first: [...], second: [...]}`` or ``[[a, b], ...]`` as the two lists."""
    if isinstance(value, dict) and isinstance(value.get(first), list):
        a, b = value[first], value.get(second)
    elif isinstance(value, list) and all(isinstance(p, list) and len(p) == 2 for p in value):
        a, b = [p[0] for p in value], [p[1] for p in value]
    else:
        raise bad(f"expected {{{first!r}: [...], {second!r}: [...]}} or pairs, got {value!r:.60}")
    if not isinstance(b, list) or len(a) != len(b) or not all(isinstance(t, str) for t in a):
        raise bad(f"{first!r} should be texts, as many as {second!r}; got {value!r:.60}")
    return a, b
