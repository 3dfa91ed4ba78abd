"""``python -m libs.cli ...`` runs the same CLI as ``sib ...``."""

from libs.cli.main import app

app(prog_name="sib")
