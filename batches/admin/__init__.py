"""Back office for batches. Every button and action calls the same services as the API.

Importing the package registers every page: the batches (`batches.py`), their manifest lines
(`members.py`), and the crossings with their quotas (`crossings.py`)."""

from . import batches, crossings, members  # noqa: F401 (importing them registers their pages)
