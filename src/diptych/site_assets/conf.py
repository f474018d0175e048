"""Sphinx configuration of the site ``diptych site`` builds (``diptych.command.site``).

The site is built from the committed notebooks and read offline: no notebook is executed (their
outputs are the real run), and nothing is fetched when a page is read, so MathJax is the copy
vendored beside this file (``_static/mathjax``, see ``scripts/vendor-mathjax``).
"""

project = "diptych"
author = "the diptych authors"
copyright = "the diptych authors"
html_title = "diptych: deep learning, taught twice"

extensions = ["myst_nb", "sphinx_design", "diptych.command.site_sphinx"]

# the committed outputs are the real run: never execute, and stderr (warnings) is not lesson text
nb_execution_mode = "off"
nb_output_stderr = "remove"
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]

html_theme = "sphinx_book_theme"
html_theme_options = {
    "home_page_in_toc": True,
    "show_navbar_depth": 1,
    "use_download_button": True,
    "use_fullscreen_button": False,
    "show_toc_level": 2,
}
html_context = {"default_mode": "light"}
html_static_path = ["_static"]
html_css_files = ["diptych.css"]
html_last_updated_fmt = None
html_show_sphinx = False

# MathJax 4 from the vendored copy, its fonts beside it; the assistive MathML gives screen readers
# the formulas; speech generation (a web worker, which a file:// page may not start) stays off
mathjax_path = "mathjax/tex-chtml.js"
# a formula wider than a phone's screen breaks into lines (MathJax 4) instead of widening the page
mathjax4_config = {
    "loader": {"paths": {"fonts": "[mathjax]/fonts"}},
    "output": {"displayOverflow": "linebreak", "linebreaks": {"inline": True}},
    "options": {
        "menuOptions": {
            "settings": {"enrich": False, "speech": False, "braille": False, "assistiveMml": True}
        }
    },
}
