"""Inference module using the SKLearn container's default input_fn, predict_fn and output_fn."""

import os

import joblib


def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))
