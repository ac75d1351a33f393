"""Switchyard HTTP client (standard library only).

    from switchyard import Client
    c = Client("http://127.0.0.1:8080", api_key=None)
    vecs = c.encode("use-lite", ["hello", "world"]).dense

Calls that get 503 (a model loading, a full queue, a server restarting) or cannot connect are
retried, waiting what the server's Retry-After says (else an exponential backoff), until
`max_retries` or the total `retry_budget_s` is used up; then the last error is raised.
"""
import base64
import json
import random
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Dict, Iterator, List, Optional, Sequence, Union

from .errors import ConnectionError as SyConnectionError
from .errors import SwitchyardError, error_for
from .types import (EncodedItem, EncodeResult, Entity, ExtractedItem, ExtractResult, ModelInfo,
                    MultiVector, RerankResult, Score, ScoreResult, SparseVector, Timing)

ItemsLike = Union[str, bytes, Sequence[Union[str, bytes, Dict[str, Any]]]]


def image_item(image: Union[bytes, str], format: Optional[str] = None,
               id: Optional[str] = None) -> Dict[str, Any]:
    """An image item for encode and score with a CLIP or SigLIP model: the file's bytes (or a
    path to read them from), sent base64 as SIE's {"images": [{"data", "format"}]}. format is
    "jpeg", "png" or "webp"; without it the server tells from the bytes."""
    if isinstance(image, str):
        with open(image, "rb") as f:
            image = f.read()
    img: Dict[str, Any] = {"data": base64.b64encode(image).decode("ascii")}
    if format:
        img["format"] = format
    item: Dict[str, Any] = {"images": [img]}
    if id is not None:
        item["id"] = id
    return item


def _items(texts: ItemsLike) -> List[Dict[str, Any]]:
    """Strings become {"text": s}; bytes become image items (image_item); dicts ({"id",
    "text"} or {"id", "images"}) pass through."""
    if isinstance(texts, (str, bytes)):
        texts = [texts]
    out = []
    for i, t in enumerate(texts):
        if isinstance(t, str):
            out.append({"text": t})
        elif isinstance(t, (bytes, bytearray)):
            out.append(image_item(bytes(t)))
        elif isinstance(t, dict) and (isinstance(t.get("text"), str) or
                                      isinstance(t.get("images"), list)):
            out.append(t)
        else:
            raise TypeError(f"item {i}: expected a string, image bytes, {{'text': ...}} or "
                            f"{{'images': ...}}, got {type(t).__name__}")
    return out


def _quote_model(model: str) -> str:
    # Model ids may contain '/', which the server accepts in the path.
    return urllib.parse.quote(model, safe="/-._~")


class Client:
    def __init__(self, base_url: str = "http://127.0.0.1:8080", api_key: Optional[str] = None,
                 timeout: float = 60.0, max_retries: int = 5, retry_budget_s: float = 30.0):
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout
        self.max_retries = max_retries
        self.retry_budget_s = retry_budget_s

    # ---- transport ----

    def _open(self, method: str, path: str, body: Optional[Dict[str, Any]] = None,
              stream: bool = False):
        """Sends the request with retries; returns the open response (status 2xx)."""
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        deadline = time.monotonic() + self.retry_budget_s
        attempt = 0
        while True:
            req = urllib.request.Request(self.base_url + path, data=data, method=method,
                                         headers=headers)
            try:
                return urllib.request.urlopen(req, timeout=self.timeout)
            except urllib.error.HTTPError as e:
                err = self._error_from(e)
                if e.code != 503:
                    raise err from None
            except (urllib.error.URLError, OSError) as e:
                reason = getattr(e, "reason", e)
                err = SyConnectionError(f"cannot reach {self.base_url}: {reason}",
                                        code="CONNECTION_ERROR")
            attempt += 1
            wait = err.retry_after if err.retry_after is not None else \
                min(8.0, 0.25 * 2 ** (attempt - 1)) * (0.5 + random.random() / 2)
            if attempt > self.max_retries or time.monotonic() + wait > deadline:
                raise err
            time.sleep(wait)

    @staticmethod
    def _error_from(e: "urllib.error.HTTPError") -> SwitchyardError:
        raw = e.read()
        code, message = "HTTP_ERROR", raw.decode("utf-8", "replace")[:500] or e.reason
        try:
            j = json.loads(raw)
            if isinstance(j, dict) and isinstance(j.get("error"), dict):
                code = j["error"].get("code", code)
                message = j["error"].get("message", message)
        except ValueError:
            pass
        retry_after = None
        ra = e.headers.get("Retry-After") if e.headers else None
        if ra:
            try:
                retry_after = max(0.0, float(ra))
            except ValueError:
                retry_after = None
        rid = e.headers.get("X-Request-ID") if e.headers else None
        return error_for(e.code, code, message, request_id=rid, retry_after=retry_after)

    def _json(self, method: str, path: str, body: Optional[Dict[str, Any]] = None) -> Any:
        with self._open(method, path, body) as r:
            return json.loads(r.read())

    # ---- models ----

    def models(self) -> List[ModelInfo]:
        d = self._json("GET", "/v1/models")
        return [ModelInfo(m["id"], m.get("state", ""), m.get("tasks", []), m.get("bytes", 0), m)
                for m in d.get("data", [])]

    def model(self, model: str) -> ModelInfo:
        m = self._json("GET", "/v1/models/" + _quote_model(model))
        return ModelInfo(m["id"], m.get("state", ""), m.get("tasks", []), m.get("bytes", 0), m)

    def health(self) -> bool:
        try:
            self._json("GET", "/healthz")
            return True
        except SwitchyardError:
            return False

    # ---- encode / score / extract ----

    def encode(self, model: str, texts: ItemsLike, **params: Any) -> EncodeResult:
        """params: output_types (["dense","sparse","multivector"]), normalize, truncate,
        is_query, instruction, and any other field the server takes in `params`."""
        body: Dict[str, Any] = {"items": _items(texts)}
        if params:
            body["params"] = params
        d = self._json("POST", "/v1/encode/" + _quote_model(model), body)
        items = []
        for it in d.get("items", []):
            sp = it.get("sparse")
            mv = it.get("multivector")
            items.append(EncodedItem(
                id=it.get("id", ""),
                dense=it["dense"]["values"] if it.get("dense") else None,
                sparse=SparseVector(sp["indices"], sp["values"], sp.get("tokens")) if sp else None,
                multivector=MultiVector(mv["token_dims"], mv["num_tokens"], mv["values"])
                if mv else None))
        t = dict(d.get("timing", {}))
        t.setdefault("tokenization_ms", t.get("tokenize_ms", 0.0))
        return EncodeResult(d.get("model", model), items,
                            Timing(**{k: float(t.get(k, 0.0)) for k in
                                      ("queue_ms", "tokenization_ms", "tokenize_ms",
                                       "inference_ms", "total_ms")}), d)

    def score(self, model: str, query: Union[str, Dict[str, Any]], items: ItemsLike,
              **params: Any) -> ScoreResult:
        """Scores items against the query (cross-encoder, or MaxSim for ColBERT models);
        scores come sorted, best first, with ranks."""
        body: Dict[str, Any] = {"query": {"text": query} if isinstance(query, str) else query,
                                "items": _items(items)}
        if params:
            body["params"] = params
        d = self._json("POST", "/v1/score/" + _quote_model(model), body)
        return ScoreResult(d.get("model", model),
                           [Score(s["item_id"], float(s["score"]), int(s["rank"]))
                            for s in d.get("scores", [])], d)

    def rerank(self, model: str, query: str, documents: Sequence[str], top_n: Optional[int] = None,
               return_documents: bool = False) -> List[RerankResult]:
        """Cohere/Jina-style rerank: results sorted by relevance, with the input index."""
        body: Dict[str, Any] = {"model": model, "query": query, "documents": list(documents),
                                "return_documents": return_documents}
        if top_n is not None:
            body["top_n"] = top_n
        d = self._json("POST", "/v1/rerank", body)
        out = []
        for r in d.get("results", []):
            doc = r.get("document")
            if isinstance(doc, dict):
                doc = doc.get("text")
            out.append(RerankResult(int(r["index"]), float(r["relevance_score"]), doc))
        return out

    def extract(self, model: str, items: ItemsLike, labels: Optional[Sequence[str]] = None,
                **params: Any) -> ExtractResult:
        """Entities with character offsets. `labels` for zero-shot models (GLiNER); leave it
        out for NER models with fixed labels."""
        p = dict(params)
        if labels is not None:
            p["labels"] = list(labels)
        body: Dict[str, Any] = {"items": _items(items)}
        if p:
            body["params"] = p
        d = self._json("POST", "/v1/extract/" + _quote_model(model), body)
        return ExtractResult(d.get("model", model), [
            ExtractedItem(it.get("id", ""), [
                Entity(e["text"], e["label"], float(e["score"]), int(e["start"]), int(e["end"]))
                for e in it.get("entities", [])])
            for it in d.get("items", [])], d)

    # ---- OpenAI-compatible ----

    def embeddings(self, model: str, input: Union[str, Sequence[str]]) -> List[List[float]]:
        d = self._json("POST", "/v1/embeddings", {"model": model, "input": input})
        return [e["embedding"] for e in sorted(d["data"], key=lambda e: e["index"])]

    def chat(self, route: str, messages: Sequence[Dict[str, Any]], stream: bool = False,
             **params: Any) -> Union[Dict[str, Any], Iterator[Dict[str, Any]]]:
        """Chat completion through a route (or model). Without stream: the OpenAI response
        dict. With stream=True: an iterator of chunk dicts (server-sent events)."""
        body = {"model": route, "messages": list(messages), "stream": stream, **params}
        if not stream:
            return self._json("POST", "/v1/chat/completions", body)
        return self._stream(body)

    def _stream(self, body: Dict[str, Any]) -> Iterator[Dict[str, Any]]:
        with self._open("POST", "/v1/chat/completions", body) as r:
            for raw in r:
                line = raw.decode("utf-8").strip()
                if not line.startswith("data:"):
                    continue
                payload = line[5:].strip()
                if payload == "[DONE]":
                    return
                chunk = json.loads(payload)
                if isinstance(chunk, dict) and isinstance(chunk.get("error"), dict):
                    e = chunk["error"]
                    raise error_for(502, e.get("code", "UPSTREAM_ERROR"), e.get("message", ""))
                yield chunk
