"""Sphinx configuration of the skl-sparse-ae documentation."""

# SPDX-License-Identifier: BSD-3-Clause

import os
import sys
from datetime import date

# Build against the package in this repository, installed or not.
sys.path.insert(0, os.path.abspath(".."))

from sphinx_gallery.sorting import ExplicitOrder  # noqa: E402

import skl_sparse_ae  # noqa: E402

project = "skl-sparse-ae"
author = "the skl-sparse-ae developers"
copyright = f"{date.today().year}, {author}"
release = skl_sparse_ae.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    # MathJax from a package, copied into the build: formulas render offline
    # (the default loads it from a CDN at view time).
    "sphinx-mathjax-offline",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
# Generated files (API stubs, gallery) go where .gitignore expects them.
autosummary_generate = True
default_role = "literal"

# numpydoc: the class templates list the methods themselves.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_validation_checks = {"PR01", "PR02", "PR03"}

autodoc_default_options = {"member-order": "bysource"}
# "fit()" rather than "SparseAutoencoder.fit()" in the page contents.
toc_object_entries_show_parents = "hide"

# The gallery runs every example at full size: matplotlib draws without a display.
os.environ.setdefault("MPLBACKEND", "Agg")
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    # From the UFLDL exercises to scikit-learn workflows, then the rest.
    "within_subsection_order": ExplicitOrder(
        [
            "plot_natural_image_filters.py",
            "plot_zca_whitening.py",
            "plot_color_features.py",
            "plot_digits_classification.py",
            "plot_grid_search.py",
            "plot_stacked_autoencoders.py",
            "*",  # any other example goes last
        ]
    ),
    "doc_module": ("skl_sparse_ae",),
    "backreferences_dir": "gen_modules/backreferences",
    "reference_url": {"skl_sparse_ae": None},
    "remove_config_comments": True,
    "show_memory": False,
    "min_reported_time": 1,
}

html_theme = "pydata_sphinx_theme"
html_title = f"skl-sparse-ae {release}"
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc", "sourcelink"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version", "theme-version"],
}
# Only the gallery and the API have sub-pages to navigate; on the other pages
# the left sidebar would be an empty "Section Navigation".
_PAGES_WITHOUT_SUBPAGES = [
    "index",
    "install",
    "quickstart",
    "user_guide",
    "stacked",
    "scaling",
    "reliability",
    "changelog",
    "family",
]
html_sidebars = {page: [] for page in _PAGES_WITHOUT_SUBPAGES}
html_show_sourcelink = False


# Links to scikit-learn, NumPy and SciPy. Intersphinx would need their
# inventories from the internet at build time; their API pages follow one URL
# pattern, so a reference to a dotted name that is not ours becomes a link
# without any download, and the build stays offline and reproducible.
_EXTERNAL_API = {
    "sklearn": "https://scikit-learn.org/stable/modules/generated/{}.html",
    "numpy": "https://numpy.org/doc/stable/reference/generated/{}.html",
    "scipy": "https://docs.scipy.org/doc/scipy/reference/generated/{}.html",
}


def _link_external_api(app, env, node, contnode):
    from docutils import nodes

    target = node.get("reftarget", "")
    if node.get("refdomain") != "py" or "." not in target:
        return None
    url = _EXTERNAL_API.get(target.split(".")[0])
    if url is None or node.get("reftype") == "mod":
        return None
    reference = nodes.reference("", "", internal=False, refuri=url.format(target))
    reference.append(contnode)
    return reference


def setup(app):
    app.connect("missing-reference", _link_external_api)
