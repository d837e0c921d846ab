"""The kernel manager ``make app`` gives Voilà: a cap on live kernels, so that a public tour cannot be
made to start one kernel per request until the machine runs out of memory.

Every page view of a Voilà app starts a kernel that runs the whole notebook (the tour holds about
470 MB). ``make app`` culls kernels idle for 10 minutes with no browser connected
(``MappingKernelManager.cull_idle_timeout``) and caps the live ones with this class; a request over
the cap gets HTTP 503 ("busy, try again in a few minutes") instead of a new kernel.

    voila notebooks/00_tour.ipynb \\
        --VoilaConfiguration.multi_kernel_manager_class=landkit.widgets.voila.CappedKernelManager \\
        --CappedKernelManager.max_kernels=8

Example
-------
>>> km = CappedKernelManager(max_kernels=3)
>>> km.max_kernels
3
"""

from __future__ import annotations

from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from tornado import web
from traitlets import Integer

__all__ = ["CappedKernelManager"]


class CappedKernelManager(AsyncMappingKernelManager):
    """An ``AsyncMappingKernelManager`` that refuses to start more than ``max_kernels`` kernels at once
    (HTTP 503 with a message saying so); restarts of a live kernel are not counted."""

    max_kernels = Integer(
        8,
        config=True,
        help="The most kernels alive at once; a request for one more is answered 503 (busy).",
    )

    async def start_kernel(self, *args, **kwargs):
        live = len(self.list_kernel_ids())
        if kwargs.get("kernel_id") is None and live >= self.max_kernels:
            self.log.warning("landkit: %d kernels alive (the cap): a new page view refused", live)
            raise web.HTTPError(
                503,
                reason=f"Busy: {live} visitors are running the tour (the most this server allows); "
                "try again in a few minutes",
            )
        return await super().start_kernel(*args, **kwargs)
