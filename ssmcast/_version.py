"""The version of ssmcast."""

__version__ = "0.1.0"
