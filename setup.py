"""Packaging for kerasae: `pip install -e .[test]` for development."""

import setuptools

setuptools.setup(
    name="kerasae",
    version="0.1.0",
    description=(
        "Train, evaluate and deploy autoencoders (AE, DAE, sparse, VAE, AAE) "
        "with TensorFlow/Keras, exported for TF Serving, TFLite and ONNX."
    ),
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    packages=setuptools.find_packages(include=["kerasae", "kerasae.*"]),
    # train.py and export.py stay at the top of the repository (the design
    # card) but are not installed: a module named `train` or `export` in
    # site-packages would shadow a user's own.
    entry_points={
        "console_scripts": [
            "kerasae-train = kerasae.scripts.train:run",
            "kerasae-export = kerasae.scripts.export:run",
            "kerasae-evaluate = kerasae.scripts.evaluate:run",
        ],
    },
    python_requires=">=3.10",
    install_requires=[
        "tensorflow==2.21.*",
        "keras==3.15.*",
        "tensorflow-datasets==4.9.10",
        # tensorflow-datasets 4.9.10 imports it without declaring it.
        "importlib_resources",
        "absl-py",
        "numpy",
        "pillow",
        "matplotlib",
        "ai-edge-litert",
        # The TensorBoard callback writes summaries through it; TensorFlow
        # 2.21 no longer installs it.
        "tensorboard",
        # The run's report.html: standalone interactive charts, JS inlined.
        "plotly",
    ],
    extras_require={
        # pytest-xdist: the suite runs as two processes, one test file
        # each (pytest.ini).
        "test": ["pytest", "pytest-xdist", "ruff", "websocket-client"],
        # `--formats=onnx`: tf2onnx converts, onnxruntime checks and runs.
        "onnx": ["tf2onnx==1.17.*", "onnx", "onnxruntime"],
        # The series baselines of bench/series_detectors.py
        # (IsolationForest, Sub-PCA); no test needs them.
        "bench": ["scikit-learn", "scipy"],
    },
)
