"""Every Python block of docs/python.md runs, top to bottom, as written."""

import os
import re

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def python_blocks(path):
    with open(path) as handle:
        text = handle.read()
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_python_page_has_blocks():
    assert len(python_blocks(os.path.join(REPO, "docs", "python.md"))) >= 4


def test_every_block_of_the_python_page_runs(tmp_path, monkeypatch,
                                             capsys):
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "docs_python"}
    for number, block in enumerate(
            python_blocks(os.path.join(REPO, "docs", "python.md")), 1):
        try:
            exec(compile(block, f"docs/python.md block {number}", "exec"),
                 namespace)
        except Exception as error:  # name the block that broke
            pytest.fail(f"docs/python.md block {number} failed: {error!r}")
    printed = capsys.readouterr().out
    assert "Run('runs/notebook-vae'" in printed
    assert os.path.exists("runs/notebook-vae/model.keras")
    assert os.path.isdir("export_out")
    assert "Figure 16" in printed and os.path.exists("reconstruction.png")
