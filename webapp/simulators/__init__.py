"""Simulators of the outside systems (DigiD, the data sources, the municipality).

They answer over HTTP like the real systems would, with deterministic data for
fictional citizens in the 999-range of BSNs. A real integration replaces a simulator
behind the same adapter in webapp/outside.py.
"""
