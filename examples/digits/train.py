"""Trains a logistic-regression digit classifier and writes metrics.json (read by mlgit)."""
import argparse
import json

import joblib
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score

from common import load_split

parser = argparse.ArgumentParser()
parser.add_argument('--data', required=True)
parser.add_argument('--C', type=float, default=1.0)
parser.add_argument('--seed', type=int, default=0)
parser.add_argument('--out', required=True)
args = parser.parse_args()

x_train, y_train, x_test, y_test = load_split(args.data, args.seed)
model = LogisticRegression(C=args.C, max_iter=2000)
model.fit(x_train, y_train)
accuracy = accuracy_score(y_test, model.predict(x_test))
joblib.dump(model, args.out)
with open('metrics.json', 'w') as f:
    json.dump({'accuracy': round(float(accuracy), 4), 'train_samples': int(len(y_train))}, f)
print(f'trained on {len(y_train)} digits: accuracy {accuracy:.4f}')
