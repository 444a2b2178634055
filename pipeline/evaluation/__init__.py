"""Evaluation: systems that answer gold questions (``systems``), their scores (``metrics``) and the
printed and plotted reports (``report``). The CLI's ``kgqa eval`` (pipeline/cli/evaluate.py) wires them."""
