"""Python client for Switchyard (standard library only). See clients/python/README.md."""
from .client import Client, image_item
from .errors import (BudgetExhaustedError, ConnectionError, InvalidInputError,
                     ModelNotFoundError, SwitchyardError, UnauthorizedError, UnavailableError,
                     UpstreamError)
from .types import (EncodedItem, EncodeResult, Entity, ExtractedItem, ExtractResult, ModelInfo,
                    MultiVector, RerankResult, Score, ScoreResult, SparseVector, Timing)

__all__ = ["Client", "image_item", "SwitchyardError", "InvalidInputError", "UnauthorizedError",
           "ModelNotFoundError", "UnavailableError", "BudgetExhaustedError", "UpstreamError",
           "ConnectionError", "EncodeResult", "EncodedItem", "SparseVector", "MultiVector",
           "Timing", "ScoreResult", "Score", "RerankResult", "ExtractResult", "ExtractedItem",
           "Entity", "ModelInfo"]
__version__ = "0.1.0"
