"""Run exported `.tflite` encoders and decoders with LiteRT, as a device would.

    from kerasae.export.litert_runner import LiteRTModel
    encoder = LiteRTModel("export/tflite/vae/encoder.tflite")
    codes = encoder.encode(raw_pixels)["code"]  # any batch size
    decoder = LiteRTModel("export/tflite/vae/decoder.tflite")
    images = decoder.decode(codes)              # raw units (0..255)

Only `ai_edge_litert` and NumPy are used (no TensorFlow), as in an app. The
signature runner resizes the input tensors to the batch it is given, so any
batch size works. Files whose inputs or outputs are integer-quantized are
handled too: inputs are quantized and outputs dequantized with the scale and
zero point stored in the file.
"""

import numpy as np
from ai_edge_litert.interpreter import Interpreter


class LiteRTModel:
    """One `.tflite` file and its signatures.

    Args:
        path: the `.tflite` file.
        num_threads: CPU threads for the interpreter (None: LiteRT default).

    Attributes:
        path: the file.
        signatures: signature name -> `{"inputs": [...], "outputs": [...]}`.
    """

    def __init__(self, path, num_threads=None):
        self.path = path
        self.interpreter = Interpreter(model_path=path,
                                       num_threads=num_threads)
        self.signatures = self.interpreter.get_signature_list()
        self._runners = {}

    def _runner(self, signature):
        if signature not in self.signatures:
            raise KeyError(
                f"{self.path} has no signature {signature!r}; it has "
                f"{', '.join(sorted(self.signatures))}")
        if signature not in self._runners:
            self._runners[signature] = self.interpreter.get_signature_runner(
                signature)
        return self._runners[signature]

    def run(self, signature=None, **inputs):
        """Runs one signature on NumPy inputs.

        Args:
            signature: its name; None when the file has exactly one.
            **inputs: input name -> array with a leading batch axis.

        Returns:
            Output name -> float32 (or bool/int) NumPy array.
        """
        if signature is None:
            (signature,) = self.signatures
        runner = self._runner(signature)
        details = runner.get_input_details()
        feed = {name: _to_tensor(np.asarray(value), details[name])
                for name, value in inputs.items()}
        outputs = runner(**feed)
        out_details = runner.get_output_details()
        return {name: _from_tensor(value, out_details[name])
                for name, value in outputs.items()}

    def encode(self, x, label=None):
        """Codes of raw examples `x`: `{"code", ...}` (VAE: mean, log_var).

        `label` (int, one per row) is for encoders that take one (the
        conditional VAE).
        """
        if label is None:
            return self.run("encode", x=x)
        return self.run("encode", x=x, label=np.asarray(label, np.int32))

    def decode(self, code, label=None):
        """Raw-unit reconstructions of `code`, shape `(batch, *input)`.

        `label` (int, one per row) is for decoders that take one (the
        supervised adversarial autoencoder, the conditional VAE).
        """
        inputs = {"code": code}
        if label is not None:
            inputs["label"] = np.asarray(label, np.int32)
        return self.run("decode", **inputs)["reconstruction"]


def _to_tensor(value, detail):
    dtype = detail["dtype"]
    scale, zero_point = detail.get("quantization", (0.0, 0))
    if np.issubdtype(dtype, np.integer) and scale:
        info = np.iinfo(dtype)
        value = np.round(value / scale + zero_point)
        return np.clip(value, info.min, info.max).astype(dtype)
    return value.astype(dtype)


def _from_tensor(value, detail):
    scale, zero_point = detail.get("quantization", (0.0, 0))
    if np.issubdtype(value.dtype, np.integer) and scale:
        return ((value.astype(np.float32) - zero_point) * scale)
    return value
