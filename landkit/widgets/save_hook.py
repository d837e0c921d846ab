"""A Jupyter save hook: notebooks are saved without live-widget outputs.

A saved widget output refers to a widget model that lives only in the running kernel; reopened, the
notebook shows "Error displaying widget: model not found" in place of every explorer and progress bar.
``make lab`` installs :func:`strip_widget_outputs` as the server's ``pre_save_hook``
(``--ContentsManager.pre_save_hook=landkit.widgets.save_hook.strip_widget_outputs``); each widget output
is saved as a line of text that says to run the cell again, and the notebook's widget state is dropped.
Figures, tables and printed text are kept.
"""

from __future__ import annotations

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
NOTE = "(a live landkit widget was here: run the cell again to show it)"


def strip_widget_outputs(model: dict, **kwargs) -> None:
    """Replace widget outputs of a notebook contents model by a text note, in place.

    Example
    -------
    >>> nb = {"type": "notebook", "content": {"metadata": {"widgets": {}}, "cells": [
    ...     {"cell_type": "code", "outputs": [
    ...         {"output_type": "display_data", "metadata": {},
    ...          "data": {"application/vnd.jupyter.widget-view+json": {"model_id": "ab"},
    ...                   "text/plain": "TrainExplorer(...)"}},
    ...         {"output_type": "stream", "name": "stdout", "text": "done"}]}]}}
    >>> strip_widget_outputs(nb)
    >>> [o.get("data", {}).get("text/plain", o.get("text")) for o in nb["content"]["cells"][0]["outputs"]]
    ['(a live landkit widget was here: run the cell again to show it)', 'done']
    >>> "widgets" in nb["content"]["metadata"]
    False
    """
    if model.get("type") != "notebook" or not isinstance(model.get("content"), dict):
        return
    nb = model["content"]
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        outputs = []
        for out in cell.get("outputs", []):
            if WIDGET_MIME in out.get("data", {}):
                out = {"output_type": "display_data", "metadata": {}, "data": {"text/plain": NOTE}}
            outputs.append(out)
        cell["outputs"] = outputs
    nb.get("metadata", {}).pop("widgets", None)
