"""The peers: which installed package runs which fixture conventions.

Each entry's `target` is a `pip install --target` folder under the cache (its pinned requirements
are `conformance/requirements/<target>.txt`); the worker runs with that folder first on `sys.path`,
so the three TRL versions live side by side."""

PEERS = [
    {"id": "trl-0.28.0", "peer": "trl", "target": "trl-0.28.0", "conventions": ["trl-0.28"]},
    {"id": "trl-0.29.1", "peer": "trl", "target": "trl-0.29.1", "conventions": ["trl-0.29"]},
    {"id": "trl-1.16.0", "peer": "trl", "target": "trl-1.16.0", "conventions": ["trl-1"]},
    {"id": "torchtune-0.6.1", "peer": "torchtune", "target": "torchtune-0.6.1", "conventions": ["torchtune"]},
    {"id": "openrlhf-0.11.2", "peer": "openrlhf", "target": "openrlhf-0.11.2", "conventions": ["openrlhf"]},
    {"id": "liger-kernel-0.8.5", "peer": "liger", "target": "liger-kernel-0.8.5", "conventions": ["liger"]},
]

# Conventions no installable package implements: their groups are reported as not run.
WITHOUT_PEER = {
    "authors": "the authors' reference code is a research repository, not a package on PyPI",
    "paper": "the paper's mathematics (optimal policy, Bradley-Terry, Plackett-Luce) has no trainer implementation",
}
