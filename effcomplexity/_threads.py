"""BLAS threads for the computations whose threaded BLAS does not pay.

OpenBLAS's threaded triangular routines (``trtri``, ``lauum``) synchronise
their threads at every block of a recursion; when another process holds one
of the cores, each synchronisation waits for a descheduled thread and the
idle threads spin, so a call that takes 0.2 s on one thread can take seconds
on two. Such calls run on one BLAS thread; large matrix products keep the
caller's setting, where threads do pay.
"""

from __future__ import annotations

import functools

from threadpoolctl import ThreadpoolController

__all__ = ["single_blas_thread"]


@functools.cache
def _controller() -> ThreadpoolController:
    # Built once (scanning the loaded libraries costs milliseconds); the limiter
    # reads and restores the current thread counts on every use.
    return ThreadpoolController()


def single_blas_thread():
    """A context manager that runs its block on one BLAS thread, then restores the setting.

    Returns
    -------
    context manager
        From :meth:`threadpoolctl.ThreadpoolController.limit`.
    """
    return _controller().limit(limits=1, user_api="blas")
