import math

import torch

from prefrl.core.reward import bradley_terry_loss, preference_probability


def test_probability_includes_random_response_floor():
    # p = 0.05 + 0.9 * sigmoid(R1 - R2)
    p = preference_probability(torch.tensor([3.0]), torch.tensor([1.0]), random_response=0.1)
    assert math.isclose(float(p), 0.05 + 0.9 / (1 + math.exp(-2.0)), rel_tol=1e-6)
    # even an overwhelming margin leaves the 5% chance of a random wrong answer
    p = preference_probability(torch.tensor([1e4]), torch.tensor([0.0]), random_response=0.1)
    assert math.isclose(float(p), 0.95, rel_tol=1e-6)


def test_loss_matches_hand_computation_for_each_label():
    ra, rb = torch.tensor([2.0, 2.0, 2.0]), torch.tensor([0.5, 0.5, 0.5])
    targets = torch.tensor([1.0, 0.0, 0.5])
    loss = bradley_terry_loss(ra, rb, targets, random_response=0.1)
    p = 0.05 + 0.9 / (1 + math.exp(-1.5))
    expected = [-math.log(p), -math.log(1 - p), -(0.5 * math.log(p) + 0.5 * math.log(1 - p))]
    for got, want in zip(loss.tolist(), expected):
        assert math.isclose(got, want, rel_tol=1e-5)


def test_without_random_response_loss_is_plain_logistic():
    loss = bradley_terry_loss(torch.tensor([1.0]), torch.tensor([0.0]), torch.tensor([1.0]), random_response=0.0)
    assert math.isclose(float(loss), math.log1p(math.exp(-1.0)), rel_tol=1e-5)


def test_loss_gradient_pushes_preferred_return_up():
    ra = torch.tensor([0.0], requires_grad=True)
    rb = torch.tensor([0.0], requires_grad=True)
    bradley_terry_loss(ra, rb, torch.tensor([1.0]), 0.1).sum().backward()
    assert ra.grad.item() < 0 < rb.grad.item()
