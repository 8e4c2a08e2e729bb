"""The CoSHC training objective (eq. 1-4 of the paper) and seekcode's distillation term."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def joint_similarity(vc: torch.Tensor, vd: torch.Tensor, beta: float, eta: float) -> torch.Tensor:
    """S_F of eq. 1-3 for a batch of code vectors vc and description vectors vd (m, dim).

    S~ = beta S_C + (1 - beta) S_D on l2-normalised vectors; S = (1 - eta) S~ +
    eta S~ S~^T / m with m the actual batch size (the last batch may be smaller);
    the diagonal is then set to 1 (a code and its own description share one code).
    """
    vc = F.normalize(vc, dim=1)
    vd = F.normalize(vd, dim=1)
    s_tilde = beta * (vc @ vc.T) + (1 - beta) * (vd @ vd.T)
    m = s_tilde.shape[0]
    s = (1 - eta) * s_tilde + eta * (s_tilde @ s_tilde.T) / m
    eye = torch.eye(m, dtype=torch.bool, device=s.device)
    return torch.where(eye, torch.ones_like(s), s)


def hashing_loss(bc: torch.Tensor, bd: torch.Tensor, s_f: torch.Tensor, mu: float,
                 lambda1: float, lambda2: float) -> torch.Tensor:
    """Eq. 4: ||min(mu S_F, 1) - B_C B_D^T / d||^2 + lambda1 ||. - B_C B_C^T / d||^2
    + lambda2 ||. - B_D B_D^T / d||^2, each squared Frobenius norm divided by m^2.

    The division by m^2 (a mean instead of a sum) keeps the scale independent of the
    batch size, so the weight of the distillation term means the same at any m.
    """
    d = bc.shape[1]
    target = torch.clamp(mu * s_f, max=1.0)
    cross = ((target - bc @ bd.T / d) ** 2).mean()
    code = ((target - bc @ bc.T / d) ** 2).mean()
    desc = ((target - bd @ bd.T / d) ** 2).mean()
    return cross + lambda1 * code + lambda2 * desc


def distillation_loss(bc: torch.Tensor, bd: torch.Tensor, vc: torch.Tensor, vd: torch.Tensor,
                      teacher_temp: float, student_temp: float) -> torch.Tensor:
    """KL(teacher || student) between per-description softmaxes over the batch's codes.

    Teacher: cosine of the float vectors (what re-ranking will use). Student: the soft
    Hamming similarity B_D B_C^T / d. Pulls the exact top candidates up the Hamming
    ranking, which is all that recall-then-re-rank needs.
    """
    d = bc.shape[1]
    teacher = F.normalize(vd, dim=1) @ F.normalize(vc, dim=1).T / teacher_temp
    student = bd @ bc.T / d / student_temp
    return F.kl_div(F.log_softmax(student, dim=1), F.log_softmax(teacher, dim=1),
                    log_target=True, reduction="batchmean")
