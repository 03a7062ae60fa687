"""LLM assist through any OpenAI-compatible endpoint: one port, a real client on `openai`, and no LLM at all.

Every feature asks the port and takes its non-LLM path when the answer is None: no endpoint, the day's token
budget spent, a timeout, an error, or output that does not validate. Model output is only ever a suggestion
the core shows; it never changes state by itself.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from storage.db import UnitOfWork, background
from storage.models import LLMCall
from storage.types import utcnow

log = logging.getLogger(__name__)
T = TypeVar("T", bound=BaseModel)
PROMPTS = Path(__file__).resolve().parents[2] / "prompts"
PROMPT_FILE = re.compile(r"(?P<name>[a-z_]+)\.v(?P<version>\d+)\.md")
EMBED_BATCH = 64  # texts per embeddings request (OpenAI takes 2,048; small self-hosted servers want fewer)
DELIMITER = "=" * 8  # user text goes between BEGIN/END lines of this; it is removed from what users wrote


@dataclass(frozen=True)
class Prompt:
    """A prompt file: its name, version and text with `{{placeholders}}`."""

    name: str
    version: str
    text: str

    def render(self, values: Mapping[str, str]) -> str:
        """The prompt with each value in, as delimited data (a user's text can never close its delimiter)."""
        out = self.text
        for key, value in values.items():
            clean = value.replace(DELIMITER, "=")
            block = f"{DELIMITER} BEGIN {key.upper()} {DELIMITER}\n{clean}\n{DELIMITER} END {key.upper()} {DELIMITER}"
            out = out.replace("{{" + key + "}}", block)
        return out


def load_prompt(name: str, directory: Path = PROMPTS) -> Prompt:
    """The newest version of a prompt file (`name.vN.md`)."""
    found = [(int(m["version"]), p) for p in directory.glob(f"{name}.v*.md") if (m := PROMPT_FILE.fullmatch(p.name))]
    if not found:
        raise FileNotFoundError(f"no prompt {name} in {directory}")
    version, path = max(found)
    return Prompt(name, f"v{version}", path.read_text(encoding="utf-8"))


class LLM(Protocol):
    """What features ask of a language model."""

    enabled: bool

    def structured(self, prompt: Prompt, values: Mapping[str, str], schema: type[T]) -> T | None:
        """The model's answer as `schema`, or None (then the feature takes its non-LLM path)."""
        ...

    def embed(self, texts: Sequence[str], *, purpose: str) -> list[list[float]] | None:
        """One vector per text from the embedding model (`purpose` names the feature in llm_calls), or None."""
        ...


class NoLLM:
    """No endpoint configured: every feature takes its non-LLM path, quietly."""

    enabled = False
    embedding_model = ""

    def structured(self, prompt: Prompt, values: Mapping[str, str], schema: type[T]) -> T | None:
        return None

    def embed(self, texts: Sequence[str], *, purpose: str) -> list[list[float]] | None:
        return None


def strict_schema(schema: type[BaseModel]) -> dict[str, Any]:
    """A pydantic model's JSON schema as structured outputs' strict mode wants it (no extra keys, all required)."""
    raw = schema.model_json_schema()

    def tighten(node: Any) -> Any:
        if isinstance(node, dict):
            node = {k: tighten(v) for k, v in node.items() if k not in ("title", "default")}
            if node.get("type") == "object":
                node["additionalProperties"] = False
                node["required"] = list(node.get("properties", {}))
            return node
        if isinstance(node, list):
            return [tighten(v) for v in node]
        return node

    return dict(tighten(raw))


class OpenAILLM:
    """The port on the `openai` client: any OpenAI-compatible server, each call recorded, a daily token budget."""

    enabled = True

    def __init__(
        self,
        factory: sessionmaker[Session],
        *,
        api_key: str | None,
        base_url: str | None,
        chat_model: str,
        embedding_model: str = "text-embedding-3-small",
        timeout: float,
        daily_budget: int,
        clock: Any = utcnow,
    ) -> None:
        import openai

        self._client = openai.OpenAI(api_key=api_key or "none", base_url=base_url, timeout=timeout, max_retries=1)
        self._factory = factory
        self.chat_model = chat_model
        self.embedding_model = embedding_model
        self._budget = daily_budget
        self._clock = clock

    def spent_today(self) -> int:
        now = self._clock()
        start = now.replace(hour=0, minute=0, second=0, microsecond=0)
        with UnitOfWork(background(self._factory)) as uow:
            used = uow.session.scalar(
                select(func.coalesce(func.sum(LLMCall.prompt_tokens + LLMCall.completion_tokens), 0)).where(
                    LLMCall.at >= start
                )
            )
        return int(used or 0)

    def _tell_leads_once(self) -> None:
        """The first time today the budget stops a call, the hub's leads hear it (claimed, so once a day)."""
        from sqlalchemy.exc import IntegrityError

        from intake.notices import HUB, BudgetSpent
        from intake.read_models import PersonView, jsonable
        from storage import repo
        from storage.models import JobRun, Person

        now = self._clock()
        with UnitOfWork(background(self._factory)) as uow:
            s = uow.session
            s.add(JobRun(job="llm_budget_spent", period=now.strftime("%Y-%m-%d"), claimed_at=now))
            try:
                s.flush()
            except IntegrityError:
                return  # told already today
            leads = [PersonView.of(p, with_skills=False) for p in s.scalars(select(Person).where(Person.is_lead))]
            repo.enqueue(s, jsonable(BudgetSpent(budget=self._budget, leads=leads)), channel=HUB, at=now)
            uow.commit()

    def _record(
        self, prompt: Prompt, outcome: str, started: float, usage: Any = None, *, model: str | None = None
    ) -> None:
        with UnitOfWork(background(self._factory)) as uow:
            uow.session.add(
                LLMCall(
                    at=self._clock(),
                    prompt=prompt.name,
                    version=prompt.version,
                    model=model or self.chat_model,
                    latency_ms=int((time.monotonic() - started) * 1000),
                    prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
                    completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
                    outcome=outcome,
                )
            )
            uow.commit()

    def structured(self, prompt: Prompt, values: Mapping[str, str], schema: type[T]) -> T | None:
        import openai

        started = time.monotonic()
        if self._budget and self.spent_today() >= self._budget:
            self._record(prompt, "budget", started)
            self._tell_leads_once()
            return None
        response_format: Any = {
            "type": "json_schema",
            "json_schema": {"name": schema.__name__, "schema": strict_schema(schema), "strict": True},
        }
        try:
            response = self._client.chat.completions.create(
                model=self.chat_model,
                messages=[{"role": "user", "content": prompt.render(values)}],
                response_format=response_format,
                temperature=0,
            )
        except openai.APITimeoutError:
            self._record(prompt, "timeout", started)
            return None
        except openai.OpenAIError as exc:
            log.warning("llm %s: %s", prompt.name, type(exc).__name__)
            self._record(prompt, "error", started)
            return None
        content = response.choices[0].message.content if response.choices else None
        try:
            answer = schema.model_validate_json(content or "")
        except ValidationError:
            self._record(prompt, "invalid", started, response.usage)
            return None  # output that does not validate is no output
        self._record(prompt, "ok", started, response.usage)
        return answer

    def embed(self, texts: Sequence[str], *, purpose: str) -> list[list[float]] | None:
        """Vectors for `texts`, in batches of EMBED_BATCH, each request recorded as `purpose`; None on any failure."""
        import openai

        record = Prompt(purpose, "embed", "")
        out: list[list[float]] = []
        for start in range(0, len(texts), EMBED_BATCH):
            batch = [t or " " for t in texts[start : start + EMBED_BATCH]]  # an empty input is an error upstream
            started = time.monotonic()
            if self._budget and self.spent_today() >= self._budget:
                self._record(record, "budget", started, model=self.embedding_model)
                self._tell_leads_once()
                return None
            try:
                response = self._client.embeddings.create(model=self.embedding_model, input=batch)
            except openai.APITimeoutError:
                self._record(record, "timeout", started, model=self.embedding_model)
                return None
            except openai.OpenAIError as exc:
                log.warning("llm embeddings %s: %s", purpose, type(exc).__name__)
                self._record(record, "error", started, model=self.embedding_model)
                return None
            data = sorted(response.data, key=lambda d: d.index)
            if len(data) != len(batch) or any(not d.embedding for d in data):
                self._record(record, "invalid", started, response.usage, model=self.embedding_model)
                return None
            self._record(record, "ok", started, response.usage, model=self.embedding_model)
            out.extend([float(x) for x in d.embedding] for d in data)
        return out


def build_llm(settings: Any, factory: sessionmaker[Session]) -> LLM:
    """The configured port: the openai client when an endpoint is set, else NoLLM."""
    if not settings.llm_enabled:
        return NoLLM()
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
    return OpenAILLM(
        factory,
        api_key=key,
        base_url=settings.openai_base_url,
        chat_model=settings.llm_chat_model,
        embedding_model=settings.llm_embedding_model,
        timeout=settings.llm_timeout,
        daily_budget=settings.llm_daily_token_budget,
    )


def usage(session: Session, since: dt.datetime) -> list[tuple[str, str, str, int, int, int, float]]:
    """(prompt, version, outcome, calls, prompt tokens, completion tokens, mean latency ms) since `since`."""
    rows = session.execute(
        select(
            LLMCall.prompt,
            LLMCall.version,
            LLMCall.outcome,
            func.count(),
            func.sum(LLMCall.prompt_tokens),
            func.sum(LLMCall.completion_tokens),
            func.avg(LLMCall.latency_ms),
        )
        .where(LLMCall.at >= since)
        .group_by(LLMCall.prompt, LLMCall.version, LLMCall.outcome)
        .order_by(LLMCall.prompt, LLMCall.version, LLMCall.outcome)
    ).all()
    return [(p, v, o, int(n), int(pt or 0), int(ct or 0), float(lat or 0)) for p, v, o, n, pt, ct, lat in rows]
