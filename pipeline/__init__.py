"""aftercall: post-call analytics for contact centres.

Stereo call recordings in, per-call conversation metrics, turns and sentiment out, as a
Parquet lake with Athena views; offline by default, on AWS when configured.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
