"""Evaluates the model the train job produced (mlgit places it in the workspace)."""
import argparse
import json

import joblib
from sklearn.metrics import f1_score

from common import load_split

parser = argparse.ArgumentParser()
parser.add_argument('--data', required=True)
parser.add_argument('--seed', type=int, default=0)
parser.add_argument('--model', required=True)
args = parser.parse_args()

_, _, x_test, y_test = load_split(args.data, args.seed)
model = joblib.load(args.model)
f1 = f1_score(y_test, model.predict(x_test), average='macro')
with open('eval.json', 'w') as f:
    json.dump({'f1_macro': round(float(f1), 4), 'test_samples': int(len(y_test))}, f)
print(f'evaluated on {len(y_test)} digits: f1_macro {f1:.4f}')
