"""``python -m deploy.operator …``: the same CLI as ``mentorship …``."""

from deploy.operator.cli import main

main()
