"""ipywidgets builders whose callbacks call handkit functions."""
