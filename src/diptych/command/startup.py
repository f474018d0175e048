"""What every process of the command does first, before its imports: one import blocked.

Every command reads notebooks with nbformat, which imports jsonschema, which imports
rfc3987_syntax where it is installed (jupyter-events asks for jsonschema[format-nongpl]). That
module builds about 35 Lark parsers when it is imported: about 1 s of every command's start-up,
on every run, for the "iri" formats that no notebook schema uses
(python-jsonschema/jsonschema#1428). jsonschema imports it under suppress(ImportError), so the
command goes without those two format checks. A notebook's kernel is another process: untouched.

``diptych.command`` imports this module first. The test suite loads it as a pytest plugin
(``-p diptych.command.startup`` in pyproject.toml), before the plugins' entry points import
nbformat, so that every pytest process starts as fast; a module of its own, because pytest
rewrites the assertions of a plugin module and everything below it.
"""

import sys

sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
