"""The shared masking + top-k decoding used by evaluation and the handler."""

from __future__ import annotations

import pytest
import torch

from trainer.recommend import NO_ITEM, START_INDEX, encode_history, mask_seen, pad_batch, recommend, top_k


def test_first_recommendation_has_the_highest_score():
    g = torch.Generator().manual_seed(0)
    scores = torch.randn(50, 300, generator=g)
    seen = [torch.randint(1, 300, (10,), generator=g).tolist() for _ in range(50)]
    idx, val = recommend(scores, seen, 20)
    masked = mask_seen(scores, seen)
    assert torch.equal(idx[:, 0], masked.argmax(1))
    assert torch.all(val[:, :-1] >= val[:, 1:])  # best first, non-increasing
    assert torch.equal(val, scores.gather(1, idx))


def test_masked_movies_and_start_token_never_appear():
    scores = torch.arange(20, dtype=torch.float).repeat(3, 1)  # highest scores on the seen ones
    seen = [[19, 18, 17], [], [5, 19]]
    scores[:, START_INDEX] = 1e9
    idx, _ = recommend(scores, seen, 10)
    for row, s in enumerate(seen):
        got = set(idx[row].tolist())
        assert START_INDEX not in got
        assert not got & set(s)
    assert idx[0, 0] == 16


def test_ties_go_to_the_lower_index():
    scores = torch.zeros(1, 10)
    scores[0, [7, 3, 5]] = 1.0
    idx, _ = top_k(mask_seen(scores, [[]]), 5)
    assert idx[0].tolist() == [3, 5, 7, 1, 2]


def test_fewer_candidates_than_k_leaves_empty_slots():
    idx, val = recommend(torch.randn(1, 5), [[1, 2]], 4)
    assert idx[0, 2:].tolist() == [NO_ITEM, NO_ITEM] and set(idx[0, :2].tolist()) == {3, 4}
    assert torch.isinf(val[0, 2:]).all()


def test_encode_history_keeps_last_inputs_but_masks_whole_history():
    index_of = {100 + i: i + 1 for i in range(10)}
    inputs, seen = encode_history([100, 999, 101, 102, 103, 104], index_of, max_len=3)
    assert inputs == [3, 4, 5]  # start token cut off: only the LAST 3 positions
    assert seen == [1, 2, 3, 4, 5]  # unknown 999 dropped, early movies still masked
    assert encode_history([], index_of, 3) == ([START_INDEX], [])


def test_pad_batch_right_pads():
    movies, lens = pad_batch([[0, 1, 2], [0]])
    assert movies.tolist() == [[0, 1, 2], [0, 0, 0]] and lens.tolist() == [3, 1]


def _reference_top_k(scores: torch.Tensor, seen: list[list[int]], k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The tie rule stated literally: mask element by element, then a full stable descending sort."""
    masked = scores.clone()
    masked[:, START_INDEX] = float("-inf")
    for row, items in enumerate(seen):
        for i in items:
            masked[row, i] = float("-inf")
    values, indices = torch.sort(masked, dim=1, descending=True, stable=True)
    extra = max(0, k - scores.shape[1])  # a list longer than the catalog ends in empty slots
    values = torch.cat([values, values.new_full((len(values), extra), float("-inf"))], 1)[:, :k]
    indices = torch.cat([indices, indices.new_zeros((len(indices), extra))], 1)[:, :k]
    return indices.masked_fill(values == float("-inf"), NO_ITEM), values


def test_recommend_equals_a_full_stable_sort_including_heavy_ties():
    g = torch.Generator().manual_seed(1)
    for trial in range(400):
        b, v, k = (int(x) for x in torch.randint(1, 40, (3,), generator=g))
        # integer scores: many exact ties, also at the k-th place; sometimes everything masked
        scores = torch.randint(-2, 3, (b, v), generator=g).float() if trial % 2 else torch.randn(b, v, generator=g)
        seen = [torch.randperm(v, generator=g)[: int(torch.randint(0, v + 1, (1,), generator=g))].tolist()
                for _ in range(b)]
        idx, val = recommend(scores, seen, k)
        ref_idx, ref_val = _reference_top_k(scores, seen, k)
        assert torch.equal(idx, ref_idx) and torch.equal(val, ref_val), (trial, scores, seen, k)


@pytest.mark.parametrize("width,k", [(100, 1), (1201, 20), (700, 10)])
def test_recommend_on_the_padded_topk_path_equals_the_full_sort(width, k):
    # widths where top_k pads the scores with -inf columns (torch's heap topk): answers unchanged,
    # with distinct scores, with ties at the k-th place, and with nearly everything masked
    g = torch.Generator().manual_seed(width + k)
    distinct = torch.randn(6, width, generator=g)
    tied = torch.randint(-2, 3, (6, width), generator=g).float()
    for scores, seen in [(distinct, [[1, 2, 3]] * 6), (tied, [[4]] * 6),
                         (distinct, [list(range(1, width - k // 2))] * 6)]:
        idx, val = recommend(scores, seen, k)
        ref_idx, ref_val = _reference_top_k(scores, seen, k)
        assert torch.equal(idx, ref_idx) and torch.equal(val, ref_val)
        assert int(idx.max()) < width


def test_recommend_fast_path_without_ties_equals_the_full_sort():
    # distinct finite scores with room beyond k: the path that skips tie-breaking
    g = torch.Generator().manual_seed(2)
    for k in (1, 5, 20, 98):
        scores = torch.randn(8, 100, generator=g)
        seen = [[1, 2, 3]] * 8
        idx, val = recommend(scores, seen, k)
        ref_idx, ref_val = _reference_top_k(scores, seen, k)
        assert torch.equal(idx, ref_idx) and torch.equal(val, ref_val)


def test_a_list_longer_than_the_catalog_ends_in_empty_slots():
    # Evaluation asks for 20 movies whatever the catalog; a catalog of 3 movies must still give 20 columns.
    scores = mask_seen(torch.randn(2, 4), [[2], []])
    idx, val = top_k(scores, 7)
    short_idx, short_val = top_k(scores, 4)
    assert idx.shape == val.shape == (2, 7)
    assert torch.equal(idx[:, :4], short_idx) and torch.equal(val[:, :4], short_val)
    assert (idx[:, 4:] == NO_ITEM).all() and torch.isneginf(val[:, 4:]).all()
    assert idx[0].tolist()[2:] == [NO_ITEM] * 5 and sorted(idx[1].tolist()[:3]) == [1, 2, 3]


def test_a_nan_score_is_never_recommended():
    # A model gone nan must not crash ranking (a worker, an evaluation) nor put the nan movie first.
    scores = torch.tensor([[0.0, 0.3, float("nan"), 0.9, 0.1], [0.0] + [float("nan")] * 4])
    idx, val = recommend(scores, [[], []], 4)
    assert idx[0].tolist() == [3, 1, 4, NO_ITEM] and idx[1].tolist() == [NO_ITEM] * 4
    assert torch.isneginf(val[1]).all() and not torch.isnan(val).any()


def test_an_allow_list_is_the_same_as_masking_everything_else():
    # rows with a list (possibly empty, possibly holding seen or repeated indices) beside rows without
    g = torch.Generator().manual_seed(3)
    for trial in range(300):
        b, v, k = (int(x) for x in torch.randint(1, 30, (3,), generator=g))
        scores = torch.randint(-2, 3, (b, v), generator=g).float() if trial % 2 else torch.randn(b, v, generator=g)
        seen = [torch.randperm(v, generator=g)[: int(torch.randint(0, v // 2 + 1, (1,), generator=g))].tolist()
                for _ in range(b)]
        allowed = [None if int(torch.randint(0, 3, (1,), generator=g)) == 0 else
                   torch.randint(0, v, (int(torch.randint(0, v + 2, (1,), generator=g)),), generator=g).tolist()
                   for _ in range(b)]
        idx, val = recommend(scores, seen, k, allowed)
        others = [s if a is None else s + [i for i in range(v) if i not in set(a)] for s, a in zip(seen, allowed)]
        ref_idx, ref_val = _reference_top_k(scores, others, k)
        assert torch.equal(idx, ref_idx) and torch.equal(val, ref_val), (trial, scores, seen, allowed, k)
    scores = torch.randn(2, 9, generator=g)
    assert torch.equal(recommend(scores, [[1], [2]], 4, [None, None])[0], recommend(scores, [[1], [2]], 4)[0])
