"""Plotly figure builders (each returns a plain ``go.Figure``)."""
