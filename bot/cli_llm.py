"""`hubspoke llm check` (does the configured endpoint answer chat and embeddings, how fast) and `hubspoke llm usage`
(every call by prompt, version and outcome, with tokens and latency)."""

from __future__ import annotations

import argparse
import datetime as dt
import time
from typing import Any

from pydantic import BaseModel


class Pong(BaseModel):
    """What `llm check` asks the chat model for: a structured answer, as the features use."""

    ok: bool


def cmd_llm_check(args: argparse.Namespace) -> int:
    from bot.cli import _settings
    from bot.llm import strict_schema

    settings = _settings()
    if not settings.llm_enabled:
        print(
            "No LLM is configured (OPENAI_API_KEY or OPENAI_BASE_URL): every feature uses its non-LLM path, "
            "which is how Hubspoke works without one."
        )
        return 0
    import openai

    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else "none"
    client = openai.OpenAI(api_key=key, base_url=settings.openai_base_url, timeout=settings.llm_timeout, max_retries=0)
    where = settings.openai_base_url or "https://api.openai.com/v1"
    print(f"endpoint: {where}")
    failed = False
    started = time.monotonic()
    try:
        reply = client.chat.completions.create(
            model=settings.llm_chat_model,
            messages=[{"role": "user", "content": 'Answer {"ok": true}.'}],
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "Pong", "schema": strict_schema(Pong), "strict": True},
            },
        )
        Pong.model_validate_json(reply.choices[0].message.content or "")
        print(f"chat ({settings.llm_chat_model}, structured output): ok in {_ms(started)}")
    except Exception as exc:  # any failure is the answer the lead wants
        failed = True
        print(f"chat ({settings.llm_chat_model}): FAILED after {_ms(started)}: {_reason(exc)}")
    started = time.monotonic()
    try:
        vectors = client.embeddings.create(model=settings.llm_embedding_model, input=["invoice triage"])
        size = len(vectors.data[0].embedding)
        print(f"embeddings ({settings.llm_embedding_model}): ok in {_ms(started)}, {size} dimensions")
    except Exception as exc:
        failed = True
        print(f"embeddings ({settings.llm_embedding_model}): FAILED after {_ms(started)}: {_reason(exc)}")
    return 1 if failed else 0


def _ms(started: float) -> str:
    return f"{(time.monotonic() - started) * 1000:.0f} ms"


def _reason(exc: Exception) -> str:
    status = getattr(exc, "status_code", None)
    return f"{type(exc).__name__}{f' ({status})' if status else ''}"  # never the key or the request


def cmd_llm_usage(args: argparse.Namespace) -> int:
    from bot.cli import _core, _settings
    from bot.llm import usage

    core = _core(_settings())
    since = core.now() - dt.timedelta(days=args.days)
    rows = core.read(lambda uow: usage(uow.session, since))
    if not rows:
        print(f"No LLM calls in the last {args.days} day(s).")
        return 0
    print(f"{'prompt':<16}{'version':<9}{'outcome':<10}{'calls':>7}{'prompt tok':>12}{'reply tok':>11}{'mean ms':>9}")
    for prompt, version, outcome, calls, pt, ct, latency in rows:
        print(f"{prompt:<16}{version:<9}{outcome:<10}{calls:>7}{pt:>12}{ct:>11}{latency:>9.0f}")
    return 0


def cmd_llm_embed(args: argparse.Namespace) -> int:
    """Embed every use case and evidence item with no vector of the configured model (an import, a new model)."""
    from bot.cli import _core, _settings
    from intake import semantic
    from storage import vectors

    settings = _settings()
    if not settings.llm_enabled:
        print('No LLM is configured (OPENAI_API_KEY or OPENAI_BASE_URL): duplicates and "who knows" use words alone.')
        return 0
    core = _core(settings)
    model = core.llm.embedding_model
    started = time.monotonic()
    done = semantic.sync(core.session_factory, core.llm, allowed=settings.llm_fields)
    took = time.monotonic() - started

    def left(uow: Any) -> tuple[int, int]:
        s = uow.session
        return (
            len(semantic.pending(s, vectors.USE_CASE, model, allowed=settings.llm_fields)),
            len(semantic.pending(s, vectors.EVIDENCE, model, allowed=settings.llm_fields)),
        )

    use_cases, evidence = core.read(left)
    rate = (done.use_cases + done.evidence) / took if took > 0 else 0.0
    print(
        f"embedded {done.use_cases} use case(s) and {done.evidence} evidence item(s) with {model} "
        f"in {took:.1f} s ({rate:.0f} a second)"
    )
    if done.failed:
        print(f"The endpoint stopped answering: {use_cases} use case(s) and {evidence} item(s) wait for the next run.")
        return 1
    return 0


def add_commands(sub: Any) -> None:
    llm = sub.add_parser("llm", help="the LLM endpoint: check it, see what it was used for").add_subparsers(
        dest="what", required=True
    )
    llm.add_parser("check", help="does the endpoint answer chat and embeddings, and how fast").set_defaults(
        func=cmd_llm_check
    )
    llm.add_parser(
        "embed", help="embed use cases and evidence without a vector of the configured model (the clock does hourly)"
    ).set_defaults(func=cmd_llm_embed)
    used = llm.add_parser("usage", help="calls by prompt, version and outcome, with tokens and latency")
    used.add_argument("--days", type=int, default=7, help="how far back (default 7)")
    used.set_defaults(func=cmd_llm_usage)
