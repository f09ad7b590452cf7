"""blocsim's agents: producer, refiner and consumer states, the bloc authority, strategies."""

from agents.authority import BlocAuthority
from agents.consumers import ConsumerState
from agents.producers import ProducerState, RefinerState
from agents.strategies import Dumping, ExportControls, SellerStrategy

__all__ = [
    "BlocAuthority",
    "ConsumerState",
    "Dumping",
    "ExportControls",
    "ProducerState",
    "RefinerState",
    "SellerStrategy",
]
