"""The agent interface: stateless configuration, a state that grows by updates.

An :class:`Agent` holds only configuration (its prompt, tools, limits). A run's progress
is plain data: a *state* built from the inputs by :meth:`Agent.initialize_state`, grown
one *update* at a time (``state + update``) by :meth:`Agent.sample_next_step`, and read
by :meth:`Agent.extract_output`. Because the state is all there is, a run can be
streamed, stopped, edited, resumed from any state, or explored several candidates at a
time. Transient machinery (tools, a sandbox process) lives in the *environment* that
:meth:`Agent.start_environment` yields for the length of a run.

Every public method returns an executable (``ot.run(agent(question))`` or ``await``);
the streams (:meth:`Agent.stream_updates`, :meth:`Agent.stream_states`) are also async
iterators. Each step is a traced call (``tracing``), so ``ot.run(..., enable_tracing=True)``
and ``ot.stream_updates(agent(q))`` show a run step by step.

Limits (fields of every agent): ``step_timeout`` bounds each step, ``run_timeout`` the
whole of :meth:`Agent.__call__`; both run on ``clock`` and raise
:class:`~onetwo.agents.errors.AgentTimeout` naming the limit and the step.

Example:
    >>> @dataclasses.dataclass
    ... class Countdown(SingleSampleAgent[int, str, UpdateListState[int, int], int, None]):
    ...     async def initialize_state(self, inputs, environment=None):
    ...         return UpdateListState(inputs=inputs)
    ...     async def _sample_single_next_step(self, *, state, environment=None):
    ...         return state.inputs - len(state.updates)
    ...     def is_finished(self, state):
    ...         return bool(state.updates) and state.updates[-1] == 0
    ...     def extract_output(self, state):
    ...         return "liftoff" if self.is_finished(state) else "..."
    >>> ot.run(Countdown()(3))   # doctest: +SKIP
    'liftoff'
"""

from __future__ import annotations

import abc
import contextlib
import copy
import dataclasses
import functools
import inspect
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any, Generic, TypeVar

from onetwo.agents.errors import AgentTimeout
from onetwo.agents.limits import deadline
from onetwo.core import tracing
from onetwo.core.clock import SYSTEM_CLOCK, Clock
from onetwo.core.executing import Executable, make_executable
from onetwo.core.sampling import repeat_and_execute

__all__ = ["Agent", "AgentStream", "SingleSampleAgent", "UpdateListState"]

I = TypeVar("I")  # noqa: E741 - the reference's type-parameter names
O = TypeVar("O")  # noqa: E741
S = TypeVar("S")
U = TypeVar("U")
E = TypeVar("E")
T = TypeVar("T")
_Stop = Callable[[S], bool] | None  # a stop condition on states, or none


@dataclasses.dataclass
class UpdateListState(Generic[I, U]):
    """A state that is the inputs plus the list of updates so far.

    ``state + update`` is a new state; ``state += update`` grows this one.
    """

    inputs: I = ""  # type: ignore[assignment]
    updates: list[U] = dataclasses.field(default_factory=list)

    def __add__(self, update: U) -> UpdateListState[I, U]:
        return UpdateListState(copy.deepcopy(self.inputs), [*copy.deepcopy(self.updates), update])

    def __iadd__(self, update: U) -> UpdateListState[I, U]:
        self.updates.append(update)
        return self


class AgentStream(Executable[T]):
    """A stream of an agent run: an async iterator, and an executable of its last item.

    ``async for state in agent.stream_states(...)`` consumes it item by item;
    ``await``/``ot.run`` runs it to the end and returns the last item (``None`` if empty).
    Under ``ot.stream_updates`` each step arrives as the update of its traced step.
    """

    __slots__ = ("_make",)

    def __init__(self, make: Callable[[], AsyncIterator[T]]) -> None:
        self._make = make

    def __aiter__(self) -> AsyncIterator[T]:
        return self._make()

    def _run(self) -> Coroutine[Any, Any, T]:
        async def last() -> Any:
            item = None
            async for item in self._make():  # noqa: B007 - the last one is the result
                pass
            return item

        return last()


class _Step:
    """The number of the step running now, for the message of a run timeout."""

    __slots__ = ("number",)

    def __init__(self) -> None:
        self.number = 1


@dataclasses.dataclass(kw_only=True)
class Agent(Generic[I, O, S, U, E], metaclass=abc.ABCMeta):
    """An agent: configuration only; see the module docstring.

    Attributes:
        step_timeout: seconds each step may take (``None``: no limit).
        run_timeout: seconds a whole ``agent(...)`` call may take (``None``: no limit).
        clock: the clock both limits run on (a ``VirtualClock`` in tests).
    """

    step_timeout: float | None = None
    run_timeout: float | None = None
    clock: Clock = SYSTEM_CLOCK

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # As in the reference, these return executables (``ot.run(agent.initialize_state(
        # q))``); subclasses write them as plain async methods.
        super().__init_subclass__(**kwargs)
        for name in ("initialize_state", "sample_next_step"):
            fn = cls.__dict__.get(name)
            if inspect.iscoroutinefunction(fn):
                setattr(cls, name, functools.wraps(fn)(make_executable(fn)))

    # --- what subclasses define ---------------------------------------------------------

    @abc.abstractmethod
    async def initialize_state(self, inputs: I, environment: E | None = None) -> S:
        """The state a run on ``inputs`` starts from."""

    @abc.abstractmethod
    async def sample_next_step(
        self, *, state: S, num_candidates: int, environment: E | None = None
    ) -> list[U]:
        """Up to ``num_candidates`` candidate updates for the next step (with replacement)."""

    @abc.abstractmethod
    def extract_output(self, state: S) -> O:
        """The run's output at ``state``."""

    def is_finished(self, state: S) -> bool:
        """Whether ``state`` is final (default: never; the caller stops the run)."""
        return False

    async def finish(self, state: S, environment: E | None = None) -> U | None:
        """The update that ends a run cut short by ``max_steps`` (default: none).

        Agents whose output must exist (e.g. ReAct's final answer) prompt for it here.
        """
        return None

    @contextlib.asynccontextmanager
    async def start_environment(self) -> AsyncIterator[E | None]:
        """The environment of one run (default: none)."""
        yield None

    # --- running --------------------------------------------------------------------------

    def __call__(
        self,
        inputs: I | None = None,
        *,
        initial_state: S | None = None,
        max_steps: int | None = None,
        stop_condition: Callable[[S], bool] | None = None,
        return_final_state: bool = False,
    ) -> Executable[Any]:
        """Run to the end: an executable of the output (``(output, state)`` if asked).

        Args:
            inputs: the task; ignored when ``initial_state`` is given.
            initial_state: resume from this state (e.g. an edited one) instead.
            max_steps: steps after which the run stops; agents with a
                :meth:`finish` step (ReAct) then take it, so an output always exists.
            stop_condition: stops the run when it holds for the state.
            return_final_state: return ``(output, final_state)``.
        """
        call = _AgentCall(
            self, inputs, initial_state, max_steps, stop_condition, return_final_state
        )
        return tracing.trace(call, name=type(self).__name__)

    def stream_updates(
        self,
        *,
        initial_state: S,
        environment: E | None = None,
        max_steps: int | None = None,
        stop_condition: Callable[[S], bool] | None = None,
    ) -> AgentStream[U]:
        """The updates of a run from ``initial_state``, one per step."""
        return AgentStream(
            lambda: self._updates(initial_state, environment, max_steps, stop_condition, None)
        )

    def stream_states(
        self,
        *,
        initial_state: S,
        environment: E | None = None,
        max_steps: int | None = None,
        stop_condition: Callable[[S], bool] | None = None,
    ) -> AgentStream[S]:
        """The states of a run from ``initial_state``, one per step (new objects)."""

        async def states() -> AsyncIterator[S]:
            state = copy.deepcopy(initial_state)
            async for update in self._updates(
                initial_state, environment, max_steps, stop_condition, None
            ):
                state = state + update  # type: ignore[operator]
                yield state

        return AgentStream(states)

    def start_environment_and_stream_updates(
        self, *, initial_state: S, max_steps: int | None = None, stop_condition: _Stop[S] = None
    ) -> AgentStream[U]:
        """:meth:`stream_updates` in an environment of its own."""
        return self._in_own_environment(
            lambda env: self._updates(initial_state, env, max_steps, stop_condition, None)
        )

    def start_environment_and_stream_states(
        self, *, initial_state: S, max_steps: int | None = None, stop_condition: _Stop[S] = None
    ) -> AgentStream[S]:
        """:meth:`stream_states` in an environment of its own."""
        return self._in_own_environment(
            lambda env: aiter(
                self.stream_states(
                    initial_state=initial_state,
                    environment=env,
                    max_steps=max_steps,
                    stop_condition=stop_condition,
                )
            )
        )

    def _in_own_environment(self, stream: Callable[[E | None], AsyncIterator[T]]) -> AgentStream[T]:
        """The items of ``stream(env)``, in an environment started for them and then closed."""

        async def items() -> AsyncIterator[T]:
            async with self.start_environment() as env:
                async for item in stream(env):
                    yield item

        return AgentStream(items)

    def start_environment_and_sample_next_step(
        self, *, state: S, num_candidates: int = 1
    ) -> Executable[list[U]]:
        """:meth:`sample_next_step` in an environment of its own."""
        return _Awaiting(lambda: self._sample_in_own_environment(state, num_candidates))

    async def _sample_in_own_environment(self, state: S, num_candidates: int) -> list[U]:
        async with self.start_environment() as env:
            return await self.sample_next_step(
                state=state, num_candidates=num_candidates, environment=env
            )

    async def _updates(
        self,
        initial_state: S,
        environment: E | None,
        max_steps: int | None,
        stop_condition: Callable[[S], bool] | None,
        step: _Step | None,
    ) -> AsyncIterator[U]:
        state = copy.deepcopy(initial_state)
        done = 0
        while not self.is_finished(state):
            if max_steps is not None and done >= max_steps:
                break
            if stop_condition is not None and stop_condition(state):
                break
            if step is not None:
                step.number = done + 1
            candidates = await self._timed_step(
                done + 1,
                functools.partial(
                    self.sample_next_step, state=state, num_candidates=1, environment=environment
                ),
            )
            if not candidates:
                break
            state += candidates[0]
            done += 1
            yield candidates[0]

    async def _timed_step(self, number: int, make: Callable[[], Any]) -> Any:
        seconds = self.step_timeout
        async with deadline(
            seconds,
            lambda: AgentTimeout(
                f"{type(self).__name__}: step {number} took longer than its step_timeout of "
                f"{seconds:g} s and was cancelled. Raise step_timeout, or make the tools and "
                "the model faster.",
                limit="step_timeout",
                step=number,
                seconds=seconds or 0.0,
            ),
            clock=self.clock,
        ):
            return await make()

    async def _run_to_end(
        self,
        inputs: I | None,
        initial_state: S | None,
        max_steps: int | None,
        stop_condition: Callable[[S], bool] | None,
        step: _Step,
    ) -> tuple[O, S]:
        async with self.start_environment() as env:
            if initial_state is not None:
                state = copy.deepcopy(initial_state)
            else:
                state = await self.initialize_state(inputs, environment=env)  # type: ignore[arg-type]
            done = 0
            async for update in self._updates(state, env, max_steps, stop_condition, step):
                state += update  # type: ignore[operator]
                done += 1
            if not self.is_finished(state):
                step.number = done + 1
                final = await self._timed_step(done + 1, lambda: self._traced_finish(state, env))
                if final is not None:
                    state += final
        return self.extract_output(state), state

    async def _traced_finish(self, state: S, env: E | None) -> U | None:
        return await _finish_step(self, state, env)


@tracing.trace(name="finish", skip=["agent", "environment"])
async def _finish_step(agent: Agent[Any, Any, Any, Any, Any], state: Any, environment: Any) -> Any:
    return await agent.finish(state, environment)


class _Awaiting(Executable[T]):
    __slots__ = ("_make",)

    def __init__(self, make: Callable[[], Coroutine[Any, Any, T]]) -> None:
        self._make = make

    def _run(self) -> Coroutine[Any, Any, T]:
        return self._make()


class _AgentCall(Executable[Any]):
    """``agent(inputs, ...)``: one traced run, under ``run_timeout``."""

    __slots__ = ("_agent", "_args")

    def __init__(self, agent: Agent[Any, Any, Any, Any, Any], *args: Any) -> None:
        self._agent = agent
        self._args = args

    def __repr__(self) -> str:
        return f"<{type(self._agent).__name__} run>"

    def _run(self) -> Coroutine[Any, Any, Any]:
        return _run_agent(self._agent, *self._args)


async def _run_agent(
    agent: Agent[Any, Any, Any, Any, Any],
    inputs: Any,
    initial_state: Any,
    max_steps: int | None,
    stop_condition: Callable[[Any], bool] | None,
    return_final_state: bool,
) -> Any:
    step = _Step()
    seconds = agent.run_timeout

    def expired() -> AgentTimeout:
        return AgentTimeout(
            f"{type(agent).__name__}: the run took longer than its run_timeout of {seconds:g} s "
            f"and was cancelled during step {step.number}. Raise run_timeout or max_steps.",
            limit="run_timeout",
            step=step.number,
            seconds=seconds or 0.0,
        )

    async with deadline(seconds, expired, clock=agent.clock):
        output, state = await agent._run_to_end(
            inputs, initial_state, max_steps, stop_condition, step
        )
    return (output, state) if return_final_state else output


@dataclasses.dataclass(kw_only=True)
class SingleSampleAgent(Agent[I, O, S, U, E]):
    """An agent that samples one candidate at a time; ``num_candidates`` repeats it.

    Subclasses implement :meth:`_sample_single_next_step`; candidates beyond the first
    run under their own sampling keys (``ot.repeat``), so each is an independent sample
    and replays as one.
    """

    @abc.abstractmethod
    async def _sample_single_next_step(self, *, state: S, environment: E | None = None) -> U:
        """One candidate next step."""

    async def sample_next_step(
        self, *, state: S, num_candidates: int = 1, environment: E | None = None
    ) -> list[U]:
        if num_candidates == 1:
            return [await _one_step(self, state, environment)]
        one = _Awaiting(lambda: _one_step(self, state, environment))
        return list(await repeat_and_execute(one, num_candidates))


@tracing.trace(name="step", skip=["agent", "environment"])
async def _one_step(
    agent: SingleSampleAgent[Any, Any, Any, Any, Any], state: Any, environment: Any
) -> Any:
    updates = getattr(state, "updates", None)
    if isinstance(updates, list) and tracing.is_enabled():
        tracing.annotate(step=len(updates) + 1)  # the renderer shows which step this is
    return await agent._sample_single_next_step(state=state, environment=environment)
