"""The ``diptych`` command's machinery: what runs the curriculum, not what a lesson imports.

A lesson imports from the top level (``data``, ``initial``, ``layouts``, ``reference``, ``parity``,
``plot``, ``adapters``, ``checks``); nothing here is imported by a notebook. The split keeps the
namespace a learner explores with tab completion down to what the lessons teach with.
"""

import sys

# Every command reads notebooks with nbformat, which imports jsonschema, which imports
# rfc3987_syntax where it is installed (jupyter-events asks for jsonschema[format-nongpl]). That
# module builds about 35 Lark parsers when it is imported: about 1 s of every command's start-up,
# on every run, for the "iri" formats that no notebook schema uses
# (python-jsonschema/jsonschema#1428). jsonschema imports it under suppress(ImportError), so the
# command goes without those two format checks. A notebook's kernel is another process: untouched.
sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
