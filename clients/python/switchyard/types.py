"""Typed results. Every result also keeps the server's JSON as `raw`."""
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional


@dataclass
class SparseVector:
    indices: List[int]
    values: List[float]
    tokens: Optional[List[str]] = None


@dataclass
class MultiVector:
    token_dims: int
    num_tokens: int
    values: List[List[float]]


@dataclass
class EncodedItem:
    id: str
    dense: Optional[List[float]] = None
    sparse: Optional[SparseVector] = None
    multivector: Optional[MultiVector] = None


@dataclass
class Timing:
    queue_ms: float = 0.0
    tokenization_ms: float = 0.0  # SIE's name; servers before it sent tokenize_ms
    tokenize_ms: float = 0.0
    inference_ms: float = 0.0
    total_ms: float = 0.0


@dataclass
class EncodeResult:
    model: str
    items: List[EncodedItem]
    timing: Timing
    raw: Dict[str, Any] = field(repr=False, default_factory=dict)

    @property
    def dense(self) -> List[List[float]]:
        """The dense vectors in input order."""
        return [it.dense for it in self.items]


@dataclass
class Score:
    item_id: str
    score: float
    rank: int


@dataclass
class ScoreResult:
    model: str
    scores: List[Score]
    raw: Dict[str, Any] = field(repr=False, default_factory=dict)


@dataclass
class RerankResult:
    index: int
    relevance_score: float
    document: Optional[str] = None


@dataclass
class Entity:
    text: str
    label: str
    score: float
    start: int
    end: int


@dataclass
class ExtractedItem:
    id: str
    entities: List[Entity]


@dataclass
class ExtractResult:
    model: str
    items: List[ExtractedItem]
    raw: Dict[str, Any] = field(repr=False, default_factory=dict)


@dataclass
class ModelInfo:
    id: str
    state: str
    tasks: List[str]
    bytes: int
    raw: Dict[str, Any] = field(repr=False, default_factory=dict)
