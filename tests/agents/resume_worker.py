"""A separate process for the resume tests (run by test_resume.py).

Usage: python resume_worker.py AGENT FOLDER LOGS [--kill-step K] [--mode MODE]

Runs a ReAct agent (``react``: 6 tool steps, then a finish) or a Python-planning agent
(``planning``: 6 code steps, the later ones reading variables of the earlier ones) on a
FakeBackend, with the model calls, tool calls and code executions recorded in the call
cache in FOLDER. Every model call and tool call that really runs appends a line to
``LOGS/model.log`` / ``LOGS/tools.log`` as it starts. With ``--kill-step K``, the tool
call of step K (0-based) SIGKILLs this process, once (a marker file remembers it).
Prints the run's output and final state as one JSON line.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import signal
from pathlib import Path
from typing import Any

from onetwo import ot
from onetwo.agents import PythonPlanningAgent, ReActAgent, Tool, ToolEnvironmentConfig
from onetwo.backends.fake import FakeBackend
from onetwo.core.caching import CallCache
from tests.agents.script import planning_script, react_script

STEPS = 6
REACT_REPLIES = [f"[Thought]: step {i}\n[Act]: lookup('k{i}')" for i in range(STEPS)] + [
    "[Finish]: the sum is in the observations"
]
PLANNING_CODES = (
    ["total = int(lookup('k0'))"]
    + [f"total += int(lookup('k{i}'))\nprint(total)" for i in range(1, STEPS - 1)]
    + ["print('total', total, lookup('k5'))\nexit()"]
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("agent", choices=["react", "planning"])
    parser.add_argument("folder")
    parser.add_argument("logs")
    parser.add_argument("--kill-step", type=int, default=-1)
    parser.add_argument("--mode", default="read_write")
    args = parser.parse_args()
    logs = Path(args.logs)
    cache = CallCache(args.folder, mode=args.mode)

    def log(name: str, line: str) -> None:
        with open(logs / name, "a") as f:
            f.write(line + "\n")
            f.flush()

    def lookup(key: str) -> str:
        """A value by key."""
        log("tools.log", key)
        marker = logs / "killed"
        if key == f"k{args.kill_step}" and not marker.exists():
            marker.write_text(key)
            os.kill(os.getpid(), signal.SIGKILL)
        return str(int(key[1:]) * 10)

    script = (
        react_script(REACT_REPLIES) if args.agent == "react" else planning_script(PLANNING_CODES)
    )

    def reply(prompt: str, **kwargs: Any) -> str:
        log("model.log", str(len(prompt)))
        return script(prompt, **kwargs)

    FakeBackend(default_reply=reply, cache=cache, model=f"resume-{args.agent}").register()
    config = ToolEnvironmentConfig(tools=[Tool(lookup)], cache=cache)
    agent: Any
    if args.agent == "react":
        agent = ReActAgent(environment_config=config, max_steps=10)
    else:
        agent = PythonPlanningAgent(environment_config=config, max_steps=10)
    output, state = ot.run(agent("Add the values up.", return_final_state=True))
    updates = [dataclasses.asdict(u) for u in state.updates]
    print(json.dumps({"output": output, "updates": updates}, default=str))


if __name__ == "__main__":
    main()
