"""An MLServer runtime that serves ctloop's model artifacts (model.json).

ctloop writes each version it serves into the server's model repository as
<name>/model-settings.json + <name>/model.json and asks the server to load it
(POST /v2/repository/models/<name>/load). The request carries one input,
`features`: FP64, shape [rows, features], in the artifact's feature order,
null for a missing value (imputed with the training mean, as ctloop does).
The answer is `probability`: FP64, shape [rows, 1], P(label = 1).

Both artifact kinds are computed exactly as ctloop computes them
(domain/logistic-regression.ts, domain/mlp.ts), so infra-validation can
compare the server's answers with ctloop's own to 1e-9.
"""

import json
import math
import os

import numpy as np
from mlserver import MLModel
from mlserver.errors import MLServerError
from mlserver.types import InferenceRequest, InferenceResponse, ResponseOutput


def _sigmoid(z):
    # Stable on both sides; matches 1 / (1 + e^-z) to rounding.
    return np.where(z >= 0, 1.0 / (1.0 + np.exp(-np.abs(z))), np.exp(-np.abs(z)) / (1.0 + np.exp(-np.abs(z))))


class CtloopModel(MLModel):
    async def load(self) -> bool:
        uri = self.settings.parameters.uri if self.settings.parameters else None
        if not uri:
            raise MLServerError("ctloop model: parameters.uri (the folder or model.json) is missing")
        path = os.path.join(uri, "model.json") if os.path.isdir(uri) else uri
        with open(path, encoding="utf-8") as f:
            model = json.load(f)
        kind = model.get("kind")
        if kind not in ("logreg", "mlp"):
            raise MLServerError(f"ctloop model: unknown artifact kind {kind!r} in {path}")
        self._features = list(model["features"])
        self._means = np.asarray(model["means"], dtype=float)
        self._stds = np.asarray(model["stds"], dtype=float)
        if kind == "logreg":
            self._weights = np.asarray(model["weights"], dtype=float)
            self._bias = float(model["bias"])
            self._layers = None
        else:
            self._layers = [
                (np.asarray(layer["weights"], dtype=float), np.asarray(layer["bias"], dtype=float))
                for layer in model["layers"]
            ]
        self.ready = True
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        if len(payload.inputs) != 1:
            raise MLServerError("ctloop model: send one input, `features`")
        tensor = payload.inputs[0]
        raw = tensor.data.root if hasattr(tensor.data, "root") else tensor.data
        values = np.array([math.nan if v is None else v for v in raw], dtype=float)
        width = len(self._features)
        if values.size % width != 0:
            raise MLServerError(f"ctloop model: {values.size} values is not rows x {width} features")
        rows = values.reshape(-1, width)
        if np.isinf(rows).any():
            raise MLServerError("ctloop model: values must be finite numbers or null")
        # Missing values are imputed with the training mean: they standardise to 0.
        standard = np.where(np.isnan(rows), 0.0, (rows - self._means) / self._stds)
        if self._layers is None:
            probability = _sigmoid(self._bias + standard @ self._weights)
        else:
            activations = standard
            for i, (weights, bias) in enumerate(self._layers):
                z = activations @ weights.T + bias
                activations = z if i == len(self._layers) - 1 else np.maximum(0.0, z)
            probability = 1.0 / (1.0 + np.exp(-activations[:, 0]))
        return InferenceResponse(
            model_name=self.name,
            model_version=self.version,
            outputs=[
                ResponseOutput(
                    name="probability",
                    shape=[rows.shape[0], 1],
                    datatype="FP64",
                    data=[float(p) for p in probability],
                )
            ],
        )
