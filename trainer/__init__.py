"""sessrec trainer: data, GRU training, full-catalog evaluation and TorchScript export."""

__version__ = "0.1.0"
