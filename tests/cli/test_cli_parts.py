"""The command line's parts in-process: datasets, backend arguments, the console script."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from onetwo.evaluation.evaluation import ExampleResult
from onetwo.run.backend_specs import parse_args, parse_spec
from onetwo.run.datasets import load_dataset, select
from onetwo.run.errors import InputError
from onetwo.run.results import ROW_FIELDS, cut_partial_line, encode_row, row_of
from tests.cli.harness import ROOT, Cli


def test_jsonl_ids_are_the_id_field_or_the_line_number(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text('{"id": "a", "question": "x"}\n\n{"question": "y"}\n')
    dataset = load_dataset(str(path))
    assert [e.id for e in dataset.entries] == ["a", 3]
    assert [e.index for e in dataset.entries] == [0, 1]
    assert len(dataset.sha256) == 64


def test_jsonl_lines_parse_as_json_loads_parses_them(tmp_path: Path) -> None:
    lines = [
        '{"id": "a", "question": "x"}',
        '  {"id": "b", "question": " y "}  ',  # spaces around the value
        '{"id": "c", "question": "\\u00e9\\n"}\t',
        '{"id": 4, "n": [1, 2.5, null, true]}',
    ]
    path = tmp_path / "d.jsonl"
    path.write_text("\r\n".join(lines) + "\n")
    assert [e.example for e in load_dataset(str(path)).entries] == [json.loads(x) for x in lines]
    path.write_text(lines[0] + "\n" + '{"id": "d"} {"id": "e"}\n')
    with pytest.raises(InputError, match=r"d\.jsonl, line 2: not valid JSON"):
        load_dataset(str(path))


def test_json_and_csv_datasets(tmp_path: Path) -> None:
    (tmp_path / "d.json").write_text('[{"question": "x"}, {"id": 7, "question": "y"}]')
    assert [e.id for e in load_dataset(str(tmp_path / "d.json")).entries] == [1, 7]
    (tmp_path / "d.csv").write_text("id,question,answer\nq1,1+1=,2\nq2,2+2=,4\n")
    entries = load_dataset(str(tmp_path / "d.csv")).entries
    assert [e.example for e in entries][1] == {"id": "q2", "question": "2+2=", "answer": "4"}
    assert [e.id for e in select(entries, ["q2"], None)] == ["q2"]
    assert [e.id for e in select(entries, [], 1)] == ["q1"]


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("d.jsonl", '{"id": 1}\n{"id": 1}\n', "d.jsonl, line 2: id 1 is already the id of"),
        ("d.jsonl", '{"q": 1}\n[1, 2]\n', "d.jsonl, line 2: an example is a JSON object"),
        ("d.json", '{"q": 1}', "a .json dataset is a list of objects, got a dict"),
        ("d.txt", "", "unknown format '.txt'"),
    ],
)
def test_bad_datasets_say_where(tmp_path: Path, name: str, text: str, message: str) -> None:
    (tmp_path / name).write_text(text)
    with pytest.raises(InputError, match=message):
        load_dataset(str(tmp_path / name))


def test_ids_not_in_the_dataset_are_refused(tmp_path: Path) -> None:
    (tmp_path / "d.jsonl").write_text('{"id": "a"}\n')
    with pytest.raises(InputError, match=r"--ids names examples .* \['b'\]"):
        select(load_dataset(str(tmp_path / "d.jsonl")).entries, ["b"], None)


def test_backend_args_are_json_where_they_parse() -> None:
    args = parse_args('max_tokens=8,stop=["a", "b"],name=plain text,temperature=0.5')
    assert args == {"max_tokens": 8, "stop": ["a", "b"], "name": "plain text", "temperature": 0.5}
    assert parse_spec("Fake:m", "").provider == "fake"
    with pytest.raises(InputError, match="is not key=value"):
        parse_args("max_tokens")


def test_the_console_script_runs_the_command(cli: Cli) -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    module, _, function = scripts["onetwo-run"].partition(":")
    # What the installed `onetwo-run` script does: import the entry point and call it.
    code = f"import sys; sys.argv[0] = 'onetwo-run'; from {module} import {function}; {function}()"
    args = [
        *("--strategy=solve.py:solve", "--dataset=qa.jsonl", "--backend=fake"),
        *("--backend_args=default_reply=4", "--limit=1", "--noprogress"),
    ]
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=cli.folder,
        env=cli.env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "1 examples × 1 backends" in done.stdout


@pytest.mark.parametrize("size", [0, 10, 70_000])
def test_cut_partial_line_keeps_whole_lines(tmp_path: Path, size: int) -> None:
    path = tmp_path / "r.jsonl"
    whole = "".join(f'{{"n": {i}}}\n' for i in range(3))
    path.write_text(whole + "x" * size)
    cut_partial_line(str(path))
    assert path.read_text() == whole
    path.write_text("y" * size)
    cut_partial_line(str(path))
    assert path.read_text() == ""


class _Opaque:
    def __repr__(self) -> str:
        return 'Opaque<"é">'


_ROW_VALUES: dict[str, list[Any]] = {
    "id": ['q"é\n\\\x01', 3, 2.5, None, [1, 2], True],
    "output": [
        "",
        "日本語",
        None,
        {"a": [1, {"b": None}]},
        (1, 2),
        _Opaque(),
        float("nan"),
        10**30,
    ],
    "target": [None, 4, -0.0],
    "metrics": [{}, {"a": float("nan"), "b": float("inf"), "c": -1e300}, {1: 1.0}, {"é": 1.0}, [1]],
    "error": ['ValueError: bad "x"\n'],
    "latency_s": [None, float("inf"), 1e-7],
    "model_calls": [True, 2.0, float("nan")],
    "backend": ["fake:é", 5],
}


def test_a_row_is_encoded_as_json_dumps_encodes_it() -> None:
    base = row_of("q1", "fake", 0, ExampleResult(0, {}, target="4", prediction="4"))
    assert tuple(base) == ROW_FIELDS  # the fast path's template
    rows = [base, dict(reversed(base.items())), {**base, "more": 1}, {}]
    rows += [{**base, key: value} for key, values in _ROW_VALUES.items() for value in values]
    for row in rows:
        expected = json.dumps(row, ensure_ascii=False, default=repr) + "\n"
        assert encode_row(row) == expected.encode(), row
