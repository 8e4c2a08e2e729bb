"""Metrics (MRR, SuccessRate@k, NDCG) and the evaluation runner."""

from seekcode.eval.metrics import mrr, mrr_at_1000_batch, ndcg, recall_at, summarize_ranks

__all__ = ["mrr", "mrr_at_1000_batch", "ndcg", "recall_at", "summarize_ranks"]
