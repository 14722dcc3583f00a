"""Applications: one package per ``fe2`` command, with its runner, report and plots."""
