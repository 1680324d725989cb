"""Hooks of the example gallery (sphinx-gallery), named in ``conf.py`` by their dotted names.

The plotting functions build their figures without pyplot, so the stock
matplotlib scraper, which reads pyplot's figure list, would see none of them:
:func:`scrape_figures` saves every :class:`~matplotlib.figure.Figure` an
example's variables hold that it has not saved before. :class:`ExampleOrder`
puts the examples in the reading order of :data:`ORDER`.
"""

from __future__ import annotations

from pathlib import Path

#: Examples in reading order; any other example follows, by file name.
ORDER = (
    "plot_forest_effective_parameters.py",
    "plot_own_sweep.py",
    "plot_back_to_u.py",
    "plot_network_monitor.py",
    "plot_grokking_llc.py",
    "plot_register_smoother.py",
    "plot_dask_cluster.py",
    "plot_paper_results.py",
)

# Figures already saved, per example file (kept alive so that ids are never reused).
_SAVED: dict[str, list] = {}


def scrape_figures(block, block_vars, gallery_conf, **kwargs) -> str:
    """Save the new figures an example holds after a code block; return their reST."""
    from matplotlib.figure import Figure
    from sphinx_gallery.scrapers import figure_rst

    saved = _SAVED.setdefault(str(block_vars["src_file"]), [])
    new = [
        value
        for value in block_vars["example_globals"].values()
        if isinstance(value, Figure) and not any(value is old for old in saved)
    ]
    paths = []
    for fig, path in zip(new, block_vars["image_path_iterator"], strict=False):
        fig.savefig(path, dpi=110, bbox_inches="tight")
        saved.append(fig)
        paths.append(path)
    return figure_rst(paths, gallery_conf["src_dir"])


class ExampleOrder:
    """Sort key of the examples within the gallery: :data:`ORDER`, then by name."""

    def __init__(self, src_dir: str) -> None:
        self.src_dir = src_dir

    def __call__(self, filename: str) -> tuple[int, str]:
        name = Path(filename).name
        return (ORDER.index(name) if name in ORDER else len(ORDER), name)

    def __repr__(self) -> str:
        return "<ExampleOrder>"
