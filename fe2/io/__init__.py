"""Field writers (XDMF/VTX, VTK series), atomic JSON/CSV results, PNG plots, and :func:`open_results`."""

from fe2.io.readers import Results, open_results

__all__ = ["Results", "open_results"]
