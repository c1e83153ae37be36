"""Each bad flag or input gets a message naming it, the value and the fix, and status 2."""

from __future__ import annotations

import pytest

from tests.cli.harness import Cli

GOOD = {
    "strategy": "--strategy=solve.py:solve",
    "dataset": "--dataset=qa.jsonl",
    "backend": "--backend=fake",
    "output_dir": "--output_dir=out",
}

CASES = {
    "missing strategy file": (
        {"strategy": "--strategy=nowhere.py:solve"},
        ["--strategy=nowhere.py:solve", "does not exist"],
    ),
    "function not there": (
        {"strategy": "--strategy=solve.py:solv"},
        ["has no function 'solv'", "'solve'"],
    ),
    "module not there": (
        {"strategy": "--strategy=no_such_module:solve"},
        ["cannot import module 'no_such_module'"],
    ),
    "malformed jsonl line": ({"dataset": "--dataset=broken.jsonl"}, ["broken.jsonl, line 3"]),
    "missing dataset": ({"dataset": "--dataset=absent.jsonl"}, ["--dataset=absent.jsonl"]),
    "unknown provider": (
        {"backend": "--backend=nosuch:model"},
        ["--backend=nosuch:model", "Unknown backend provider 'nosuch'", "'fake'"],
    ),
    "unknown backend argument": (
        {"backend": "--backend=fake", "args": "--backend_args=colour=1"},
        ["--backend=fake", "colour"],
    ),
    "unwritable output folder": (
        {"output_dir": "--output_dir=qa.jsonl/out"},
        ["--output_dir=qa.jsonl/out", "cannot write there"],
    ),
    "unknown flag": ({"extra": "--parallelsim=3"}, ["Unknown command line flag 'parallelsim'"]),
    "bad flag value": ({"extra": "--parallelism=0"}, ["parallelism", "0"]),
    "missing input field": ({"extra": "--inputs_field=prompt"}, ["has no field 'prompt'"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_exits_2_with_a_clear_message(cli: Cli, case: str) -> None:
    lines = ['{"question": "1+1="}', '{"question": "2+2="}', '{"question": "3+3=", ']
    (cli.folder / "broken.jsonl").write_text("\n".join(lines) + "\n")
    changes, expected = CASES[case]
    args = {**GOOD, **changes}
    done = cli(*args.values())
    assert done.returncode == 2, (done.stdout, done.stderr)
    message = done.stderr.strip().splitlines()[-1]
    assert message.startswith("onetwo-run: error: ")
    for part in expected:
        assert part in message
    # Nothing ran, and the folder is not claimed: no results, no fingerprint.
    assert not (cli.folder / "out" / "results.jsonl").exists()
    assert not (cli.folder / "out" / "fingerprint.json").exists()


def test_flagfile_and_helpfull_work(cli: Cli) -> None:
    (cli.folder / "exp.flags").write_text(
        "--strategy=solve.py:solve\n--dataset=qa.jsonl\n--backend=fake\n"
        "--backend_args=default_reply=4\n--output_dir=out\n"
    )
    done = cli("--flagfile=exp.flags", "--limit=2")
    assert done.returncode == 0, done.stderr
    assert len(cli.rows()) == 2
    helped = cli("--helpfull")
    assert helped.returncode == 0 and "--num_samples" in helped.stdout
