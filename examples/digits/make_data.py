"""Writes data/digits.csv: the 1797 8x8 digit images that ship inside scikit-learn.

The data is generated rather than kept in this source tree so the example needs no download and
no Git LFS server to get started; once written, commit it (it is tracked with Git LFS, see
.gitattributes) and mlgit's jobs read it from the pushed commit like any other dataset.
"""
import csv
import os
import sys

try:
    from sklearn.datasets import load_digits
except ImportError:
    sys.exit('make_data.py needs scikit-learn: apt-get install python3-sklearn (or pip install scikit-learn)')

here = os.path.dirname(os.path.abspath(__file__))
target = os.path.join(here, 'data', 'digits.csv')
os.makedirs(os.path.dirname(target), exist_ok=True)
digits = load_digits()
with open(target, 'w', newline='') as f:
    writer = csv.writer(f, lineterminator='\n')
    writer.writerow([f'pixel{i}' for i in range(64)] + ['label'])
    for pixels, label in zip(digits.data.astype(int), digits.target):
        writer.writerow([*pixels.tolist(), int(label)])
print(f'wrote {len(digits.target)} digits to {os.path.relpath(target)}')
