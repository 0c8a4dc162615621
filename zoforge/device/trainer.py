"""Zeroth-order training of a small network whose weights live in the engine, driven only by engine
commands (MeZO's step with PeZO's numbers): the host never sees a perturbation, it sends seeds,
signs and one scalar per step and reads back forward sums.

One step (``ZOTrainer.step``) is query number ``step`` of the run, placed by
:func:`zoforge.golden.queries.query_position` (the host optimizer's definition too)::

    SEED s                       (pool chains: only when the pool's seed changes, every ``refresh``
                                  queries of the rng spec and once at the start; other chains: every step)
    START row                    (pool chains: the pool continues where the last step stopped)
    SCALE q                      (norm chains: q = tensor_scale of this step's perturbation)
    PERTURB +1   FORWARD ... -> L+
    PERTURB -2   FORWARD ... -> L-
    PERTURB +1                   (every weight back, bit for bit)
    UPDATE c = lr * (L+ - L-) / (2 eps)     (in the engine's c format; z regenerated once more)

``scale=fold`` chains send no SCALE: the engine perturbs by eps*z with the constant-q codes z, and the
norm-matching factor f (:func:`fold_factor` of this step's perturbation, the whole network being one
tensor) goes into c. The norm chain's step along f*z estimates ``f * g`` and moves by ``lr * f*g * f*z``,
so c = lr * g * f**2 gives the same update; eps stays a fixed shift.

The network is a ReLU MLP (``sizes = [inputs, hidden..., classes]``; two entries: a linear
classifier). Each layer is a rows x (cols+1) matrix in the engine's weight memory, the extra column
being the bias, fed by a constant input 1.0. Activations travel as ``a_bits`` integers with
``a_frac`` fraction bits; the host applies ReLU and requantizes between layers, and computes the
softmax cross-entropy from the exact sums. Link-agnostic: anything with ``transact`` works.

Members
-------
Task, make_task(...)       a synthetic classification task (Gaussian class clusters), standardized
Layer, layout(spec, sizes) where each layer's matrix sits in the weight memory
EngineNet(client, sizes, a_frac)   init(rng), logits(X), words
cross_entropy(logits, y) -> (loss, accuracy)
ZOTrainer(client, task, options)   step(X, y), train_step(), evaluate(X, y), train() -> evaluations
(options: :class:`zoforge.device.options.DeviceTrainOptions`)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..golden.pezo import fold_factor, tensor_scale
from ..golden.queries import query_position
from .client import EngineClient
from .options import DeviceTrainOptions

__all__ = ["Task", "make_task", "Layer", "layout", "EngineNet", "cross_entropy", "ZOTrainer"]


@dataclass
class Task:
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray

    @property
    def features(self) -> int:
        return self.X_train.shape[1]

    @property
    def classes(self) -> int:
        return int(self.y_train.max()) + 1


def make_task(features: int = 8, classes: int = 4, train: int = 512, test: int = 512, *,
              separation: float = 2.0, seed: int = 0) -> Task:
    """Each class a unit-variance Gaussian cluster around a random centre at distance ``separation``
    from the origin; features standardized with the training statistics."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(classes, features))
    centres *= separation / np.linalg.norm(centres, axis=1, keepdims=True)

    def draw(n):
        y = rng.integers(0, classes, size=n)
        return centres[y] + rng.normal(size=(n, features)), y

    Xtr, ytr = draw(train)
    Xte, yte = draw(test)
    mu, sd = Xtr.mean(axis=0), Xtr.std(axis=0)
    return Task((Xtr - mu) / sd, ytr, (Xte - mu) / sd, yte)


@dataclass(frozen=True)
class Layer:
    base: int          # first weight word
    rows: int          # outputs
    cols: int          # inputs + 1 (bias)
    kw: int            # words per row

    @property
    def words(self) -> int:
        return self.rows * self.kw


def layout(spec, sizes: list[int]) -> list[Layer]:
    """Consecutive regions of the weight memory, one per layer; checked against the spec."""
    out, base = [], 0
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        cols = n_in + 1
        if cols > spec.max_cols:
            raise ValueError(f"engine trainer: a layer with {n_in} inputs needs max_cols >= {cols}")
        kw = -(-cols // spec.lanes)
        out.append(Layer(base, n_out, cols, kw))
        base += n_out * kw
    if base > spec.words:
        raise ValueError(f"engine trainer: sizes {sizes} need {base} weight words, the engine has {spec.words}")
    return out


def cross_entropy(logits: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    z = logits - logits.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-logp[np.arange(len(y)), y].mean()), float((logits.argmax(axis=1) == y).mean())


class EngineNet:
    """A ReLU MLP in the engine's weight memory."""

    def __init__(self, client: EngineClient, sizes: list[int], a_frac: int):
        self.client, self.spec, self.sizes, self.a_frac = client, client.spec, list(sizes), a_frac
        self.layers = layout(self.spec, self.sizes)

    @property
    def words(self) -> int:
        return sum(layer.words for layer in self.layers)

    def quantize(self, x: np.ndarray) -> np.ndarray:
        top = (1 << (self.spec.a_bits - 1)) - 1
        return np.clip(np.rint(x * 2.0 ** self.a_frac), -top - 1, top).astype(np.int64)

    def init(self, rng: np.random.Generator) -> None:
        """Uniform +-1/sqrt(fan in) weights, zero biases, loaded with one LOAD per layer."""
        spec = self.spec
        for layer in self.layers:
            bound = 1.0 / math.sqrt(layer.cols - 1)
            W = np.zeros((layer.rows, layer.kw * spec.lanes))
            W[:, :layer.cols - 1] = rng.uniform(-bound, bound, size=(layer.rows, layer.cols - 1))
            codes = np.rint(W * 2.0 ** spec.w_frac).astype(np.int64)
            self.client.load(layer.base, codes.reshape(-1, spec.lanes))

    def logits(self, X: np.ndarray) -> np.ndarray:
        h = np.asarray(X, dtype=np.float64)
        scale = 2.0 ** -(self.spec.w_frac + self.a_frac)
        for i, layer in enumerate(self.layers):
            x = self.quantize(np.concatenate([h, np.ones((len(h), 1))], axis=1))
            h = self.client.forward(layer.base, layer.rows, x) * scale
            if i + 1 < len(self.layers):
                h = np.maximum(h, 0.0)
        return h


class ZOTrainer:
    def __init__(self, client: EngineClient, task: Task, config: DeviceTrainOptions):
        self.client, self.spec, self.task, self.config = client, client.spec, task, config
        self.net = EngineNet(client, [task.features, *config.hidden, task.classes], config.a_frac)
        self.rng = np.random.default_rng(config.seed)
        self.eps = 2.0 ** -self.spec.eps_shift
        self.queries = 0                   # steps taken: the index of the next query
        self.pool_seed = None              # the seed the engine's pool was last filled from
        self.factor = 1.0                  # this step's fold factor (scale=fold chains)
        self.c_saturated = 0
        self.steps_done = 0
        self.net.init(self.rng)

    def _select_perturbation(self) -> None:
        spec, rng, length = self.spec, self.spec.rng_spec, self.net.words * self.spec.lanes
        seed, first = query_position(rng, self.queries, length, self.config.seed)
        self.queries += 1
        if spec.has_pool:
            seed = rng.seed if seed is None else seed          # None: the pool filled from the spec's seed
            if seed != self.pool_seed:
                self.client.seed(seed)                         # refills the pool
                self.pool_seed = seed
            self.client.start(first // spec.lanes)
        else:
            self.client.seed(seed)
        if spec.has_scale:
            self.client.scale(tensor_scale(rng, first, length, seed=seed))
        if rng.KIND == "pezo" and rng.scale == "fold":
            self.factor = fold_factor(rng, first, length, seed=seed)

    def c_code(self, value: float) -> int:
        spec = self.spec
        top = (1 << (spec.c_bits - 1)) - 1
        code = int(np.rint(value * 2.0 ** spec.c_frac))
        if not -top - 1 <= code <= top:
            self.c_saturated += 1
        return max(-top - 1, min(top, code))

    def step(self, X: np.ndarray, y: np.ndarray) -> dict:
        count, client = self.net.words, self.client
        self._select_perturbation()
        client.perturb(1, count)
        loss_plus, _ = cross_entropy(self.net.logits(X), y)
        client.perturb(-2, count)
        loss_minus, _ = cross_entropy(self.net.logits(X), y)
        client.perturb(1, count)
        g = (loss_plus - loss_minus) / (2 * self.eps)
        c = self.c_code(self.config.lr * g * self.factor ** 2)
        client.update(c, count)
        return {"loss_plus": loss_plus, "loss_minus": loss_minus, "g": g, "c": c, "factor": self.factor}

    def train_step(self) -> dict:
        """One step on a random mini-batch of the task's training set."""
        task = self.task
        idx = self.rng.choice(len(task.X_train), size=self.config.batch, replace=False)
        return self.step(task.X_train[idx], task.y_train[idx])

    def evaluate(self, X: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        return cross_entropy(self.net.logits(X), y)

    def train(self, steps: int | None = None, *, on_step=None, on_eval=None) -> list[dict]:
        """The training loop: ``steps`` (default ``config.steps``) steps on random mini-batches, an
        evaluation at step 0, every ``config.eval_interval`` steps and at the end. ``on_step(step,
        info)`` and ``on_eval(row)`` see every step and evaluation as they happen. Returns the
        evaluations: step, loss and accuracy on the first ``eval_samples`` training examples, and
        test_loss / test_accuracy on the test set."""
        cfg, task = self.config, self.task
        steps = cfg.steps if steps is None else steps
        Xe, ye = task.X_train[:cfg.eval_samples], task.y_train[:cfg.eval_samples]
        history = []

        def record(at):
            loss, accuracy = self.evaluate(Xe, ye)
            test_loss, test_accuracy = self.evaluate(task.X_test, task.y_test)
            row = {"step": at, "loss": loss, "accuracy": accuracy, "test_loss": test_loss,
                   "test_accuracy": test_accuracy}
            history.append(row)
            if on_eval:
                on_eval(row)

        record(0)
        for step in range(1, steps + 1):
            info = self.train_step()
            self.steps_done = step
            if on_step:
                on_step(step, info)
            if (cfg.eval_interval and step % cfg.eval_interval == 0) or step == steps:
                record(step)
        return history
