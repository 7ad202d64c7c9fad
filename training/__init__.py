"""Training the VLA policy, above ``policies`` and ``datagen`` (it reads datasets and writes checkpoints).

``python -m training.train --data DATA --model CONFIG [key=value ...]`` (``training.train``). Modules:
``config`` (settings, no torch), ``data`` (datasets, split by episode), ``objective`` (loss, learning
rate), ``checkpointing`` (what a run writes), ``trainer`` (the loop).
"""
