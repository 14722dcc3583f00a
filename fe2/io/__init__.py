"""Field writers (XDMF/VTX), atomic JSON/CSV results and PNG plots."""
