"""Seconds per iteration and peak memory of a detnb RetinaNet-R50 training step against torchvision's.

The same weights (torchvision's model converted by `detnb.models.torchvision_import`), the same batch of two
images with five boxes each, the same input size, measured in the same run, each side in its own
subprocess. It is the train-step half of `bench/dense_vs_torchvision.py`, which does the measuring:

    python bench/train_step.py [--size 800] [--threads 2] [--repeats 3] [--train-iters 4]
"""
import subprocess, sys
from pathlib import Path

if __name__ == '__main__':
    dense = Path(__file__).with_name('dense_vs_torchvision.py')
    args = sys.argv[1:] if any(a.startswith('--size') for a in sys.argv[1:]) else ['--size', '768', *sys.argv[1:]]
    sys.exit(subprocess.call([sys.executable, str(dense), '--models', 'retinanet', '--modes', 'train', *args]))
