"""The options of training inside an engine (``zoforge train --device``): one type, one set of defaults,
read by the trainer, the run (metrics, weights) and the command line.

Members: :class:`DeviceTrainOptions`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["DeviceTrainOptions"]


@dataclass
class DeviceTrainOptions:
    steps: int = 60
    lr: float = 0.1
    batch: int = 16
    hidden: list[int] = field(default_factory=list)   # [] = linear classifier
    a_frac: int = 4                    # fraction bits of the activations sent to FORWARD
    features: int = 4                  # the synthetic task: inputs, classes, examples
    classes: int = 3
    train_samples: int = 256
    eval_samples: int = 64             # training examples evaluated, and the size of the test set
    eval_interval: int = 20            # evaluate every N steps (and at both ends); 0 = at both ends only
    seed: int = 0                      # mini-batches, initial weights, and the run seed of the queries
    out: str = "runs/engine"
    progress: bool = True
