"""Embedding throughput of the bench embeddings server (all-MiniLM-L6-v2 on CPU) through the openai client.

    .venv/bin/python bench/embeddings/throughput.py
    .venv/bin/python bench/embeddings/throughput.py --float --limit 640

Builds the bench environment if needed (`ensure_env`), starts the server (`serve`), then embeds every use case
of the 2025 federal inventory (use_case_name and problem_solved, the inventory's name and description) in
requests of --batch-size texts, one at a time, as `bot.llm` sends them. Without the inventory it embeds
3,611 synthetic sentences. One request first warms the model up and is not timed. Prints the time to build
the environment and start the server, the vector dimension, items/s and tokens/s, request p50/p95, and the
time to embed all 3,611 use cases (measured when all are embedded, extrapolated from the rate with --limit).

The client asks for base64 vectors by default (it decodes them itself); --float asks for JSON floats instead.
"""

from __future__ import annotations

import argparse
import csv
import math
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Literal

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from openai import Omit, OpenAI, omit  # noqa: E402

from bench.embeddings import ENV_DIR, ensure_env, serve  # noqa: E402

INVENTORY = REPO.parent / "shared/data/us-federal-ai-inventory-2025/2025_individually_reported_AI_use_cases.csv"
USE_CASES = 3611
MODEL = "all-MiniLM-L6-v2"


def inventory_texts(path: Path) -> list[str]:
    """Each use case's name and description (problem_solved), or no texts if the file is missing."""
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    texts = []
    for row in rows:
        name, description = (row.get("use_case_name") or "").strip(), (row.get("problem_solved") or "").strip()
        texts.append(f"{name}. {description}" if description else name)
    return texts


def synthetic_texts(count: int, seed: int = 0) -> list[str]:
    """Use-case-like sentences of varied length, the same for a given seed."""
    rng = random.Random(seed)
    verbs = ["Classifies", "Summarises", "Detects", "Forecasts", "Extracts", "Routes", "Translates", "Flags"]
    things = ["grant applications", "customs declarations", "call transcripts", "satellite images", "invoices"]
    aims = ["to cut review time", "for analysts", "before human review", "to spot fraud", "across regions"]
    words = ["the", "agency", "uses", "a", "model", "trained", "on", "past", "records", "and", "staff", "check", "it"]
    texts = []
    for _ in range(count):
        detail = " ".join(rng.choices(words, k=rng.randint(5, 60)))
        texts.append(f"{rng.choice(verbs)} {rng.choice(things)} {rng.choice(aims)}: {detail}")
    return texts


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile of values."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, default=INVENTORY, help="the OMB inventory CSV")
    parser.add_argument("--batch-size", type=int, default=64, help="texts per request")
    parser.add_argument("--limit", type=int, help="embed only the first N texts")
    parser.add_argument("--float", action="store_true", help="ask for JSON floats, not the client's base64")
    parser.add_argument("--env", type=Path, default=ENV_DIR, help="the bench environment's folder")
    args = parser.parse_args(argv)

    texts = inventory_texts(args.file)
    source = f"{args.file.name} (use_case_name + problem_solved)"
    if not texts:
        print(f"no inventory at {args.file}: synthetic sentences instead", file=sys.stderr)
        texts, source = synthetic_texts(USE_CASES), "synthetic sentences"
    texts = texts[: args.limit] if args.limit else texts

    started = time.perf_counter()
    python = ensure_env(args.env)
    print(f"bench env: {python.parent.parent} ready in {time.perf_counter() - started:.1f} s")

    started = time.perf_counter()
    with serve(python) as base_url:
        print(f"server: {base_url} answering in {time.perf_counter() - started:.1f} s")
        client = OpenAI(base_url=base_url, api_key="unused", max_retries=0)
        encoding: Literal["float"] | Omit = "float" if args.float else omit
        models = [model.id for model in client.models.list()]

        started = time.perf_counter()
        client.embeddings.create(model=MODEL, input=texts[: args.batch_size], encoding_format=encoding)
        warm = time.perf_counter() - started

        vectors: list[list[float]] = []
        latencies: list[float] = []
        tokens = 0
        started = time.perf_counter()
        for start in range(0, len(texts), args.batch_size):
            sent = time.perf_counter()
            batch = texts[start : start + args.batch_size]
            response = client.embeddings.create(model=MODEL, input=batch, encoding_format=encoding)
            latencies.append(time.perf_counter() - sent)
            vectors.extend(item.embedding for item in response.data)
            tokens += response.usage.total_tokens
        elapsed = time.perf_counter() - started

    if len(vectors) != len(texts):
        print(f"FAILED: {len(vectors)} vectors for {len(texts)} texts", file=sys.stderr)
        return 1
    dimension = len(vectors[0])
    worst = max(abs(math.sqrt(sum(x * x for x in vector)) - 1.0) for vector in vectors)
    rate = len(texts) / elapsed
    print(f"model: {', '.join(models)}; {dimension} dimensions, unit length (largest |norm - 1|: {worst:.1e})")
    print(f"texts: {len(texts):,} from {source}, {tokens:,} tokens, in requests of {args.batch_size}")
    print(f"encoding: {'float' if args.float else 'base64 (the client default)'}; warm-up request {warm:.2f} s")
    print(
        f"embedded {len(texts):,} in {elapsed:.1f} s: {rate:.1f} items/s, {tokens / elapsed:,.0f} tokens/s;"
        f" request p50 {statistics.median(latencies) * 1000:.0f} ms, p95 {percentile(latencies, 0.95) * 1000:.0f} ms"
    )
    measured = "measured" if len(texts) == USE_CASES else "at that rate"
    print(f"all {USE_CASES:,} use cases: {USE_CASES / rate:.1f} s ({measured})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
