"""The CoSHC objective on small matrices checked by hand."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from seekcode.hashing.loss import distillation_loss, hashing_loss, joint_similarity  # noqa: E402


def test_joint_similarity_by_hand():
    vc = torch.tensor([[2.0, 0.0], [0.0, 3.0]])  # normalised to e1, e2: S_C = I
    vd = torch.tensor([[1.0, 0.0], [0.6, 0.8]])  # S_D = [[1, .6], [.6, 1]]
    s = joint_similarity(vc, vd, beta=0.5, eta=0.5)
    # S~ = [[1, .3], [.3, 1]]; S~S~^T / 2 = [[.545, .3], [.3, .545]];
    # S = .5 S~ + .5 S~S~^T/2 = [[.7725, .3], [.3, .7725]]; diagonal := 1.
    np.testing.assert_allclose(s.numpy(), [[1.0, 0.3], [0.3, 1.0]], atol=1e-6)


def test_joint_similarity_normalises_by_actual_batch_size():
    vc = torch.eye(3)
    vd = torch.eye(3)
    # S~ = I, S~S~^T / m = I / 3: off-diagonal stays 0 and the diagonal is forced to 1.
    s = joint_similarity(vc, vd, beta=0.6, eta=0.4)
    np.testing.assert_allclose(s.numpy(), np.eye(3), atol=1e-6)
    vc = torch.ones(3, 2)
    s = joint_similarity(vc, vc, beta=0.6, eta=0.4)  # all ones: (1-.4) + .4 * 3/3 = 1
    np.testing.assert_allclose(s.numpy(), np.ones((3, 3)), atol=1e-6)


def test_hashing_loss_by_hand():
    s_f = torch.tensor([[1.0, 0.3], [0.3, 1.0]])  # mu = 2 -> target [[1, .6], [.6, 1]]
    bc = torch.tensor([[1.0, 1.0], [1.0, -1.0]])
    bd = torch.tensor([[1.0, 1.0], [-1.0, 1.0]])
    # B_C B_D^T / 2 = [[1, 0], [0, -1]]: squared errors 0, .36, .36, 4 -> mean 1.18
    # B_C B_C^T / 2 = B_D B_D^T / 2 = I: squared errors 0, .36, .36, 0 -> mean .18 each
    loss = hashing_loss(bc, bd, s_f, mu=2.0, lambda1=0.1, lambda2=0.1)
    assert float(loss) == pytest.approx(1.18 + 0.1 * 0.18 + 0.1 * 0.18)


def test_hashing_loss_is_zero_for_matching_codes():
    b = torch.tensor([[1.0, 1.0, 1.0, 1.0], [1.0, -1.0, 1.0, -1.0]])
    s_f = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    assert float(hashing_loss(b, b, s_f, mu=1.5, lambda1=0.1, lambda2=0.1)) == pytest.approx(0.0)


def test_distillation_zero_when_rankings_agree_and_positive_otherwise():
    v = torch.eye(2)  # teacher logits v v^T / .5: rows [2, 0] and [0, 2]
    b = torch.tensor([[1.0, 1.0], [-1.0, -1.0]])  # B B^T / d: rows [1, -1] and [-1, 1]
    # student temperature 1: the same gap of 2 per row, so the same softmax
    assert float(distillation_loss(b, b, v, v, 0.5, 1.0)) == pytest.approx(0.0, abs=1e-6)
    # temperature .25: a gap of 8, over-confident against the teacher
    assert float(distillation_loss(b, b, v, v, 0.5, 0.25)) > 0.1
