"""The command-line scripts, installed as console scripts.

`kerasae-train` (`train.py`), `kerasae-export` (`export.py`) and
`kerasae-evaluate` (`python -m kerasae.evaluate`) each call a module's
`run()` here. Importing one defines its absl flags, so a process imports
one script module.
"""
