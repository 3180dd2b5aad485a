"""Masked pooling: hand-made answers, padding that cannot leak in, attention weights, errors."""

import pytest
import torch

from lstmkit.nn.pooling import AttentionPooling, Pooling, last_pool, lengths_to_mask, max_pool, mean_pool

# Two sequences of D = 2 features, padded to T = 3; row 1 has length 2 and 999 in its padding.
X = torch.tensor(
    [
        [[1.0, -1.0], [3.0, 5.0], [2.0, 0.0]],
        [[4.0, 2.0], [-2.0, 6.0], [999.0, 999.0]],
    ]
)
LENGTHS = torch.tensor([3, 2])


def test_lengths_to_mask():
    assert lengths_to_mask(torch.tensor([3, 1, 2]), 4).tolist() == [
        [True, True, True, False],
        [True, False, False, False],
        [True, True, False, False],
    ]


def test_hand_made_answers():
    assert last_pool(X, LENGTHS).tolist() == [[2.0, 0.0], [-2.0, 6.0]]
    # forward half at step length-1, backward half at step 0
    assert last_pool(X, LENGTHS, bidirectional=True).tolist() == [[2.0, -1.0], [-2.0, 2.0]]
    torch.testing.assert_close(mean_pool(X, LENGTHS), torch.tensor([[2.0, 4.0 / 3.0], [1.0, 4.0]]))
    assert max_pool(X, LENGTHS).tolist() == [[3.0, 5.0], [4.0, 6.0]]
    pooled, weights = Pooling("max_mean", 2)(X, LENGTHS)
    torch.testing.assert_close(pooled, torch.tensor([[3.0, 5.0, 2.0, 4.0 / 3.0], [4.0, 6.0, 1.0, 4.0]]))
    assert weights is None


def test_max_of_all_negative_values_ignores_zero_padding():
    x = torch.tensor([[[-5.0], [-3.0], [0.0]]])  # padding is 0, larger than every real value
    assert max_pool(x, torch.tensor([2])).item() == -3.0


def test_matches_per_sequence_reference():
    torch.manual_seed(0)
    x, lengths = torch.randn(4, 6, 8), torch.tensor([6, 1, 3, 5])
    for b, length in enumerate(lengths.tolist()):
        seq = x[b, :length]  # (L, D): the sequence without padding
        torch.testing.assert_close(last_pool(x, lengths)[b], seq[-1])
        torch.testing.assert_close(last_pool(x, lengths, True)[b], torch.cat([seq[-1, :4], seq[0, 4:]]))
        torch.testing.assert_close(mean_pool(x, lengths)[b], seq.mean(dim=0))
        torch.testing.assert_close(max_pool(x, lengths)[b], seq.max(dim=0).values)


def test_last_pool_bidirectional_matches_nn_lstm_final_states():
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(3, 4, batch_first=True, bidirectional=True)
    x, lengths = torch.randn(3, 5, 3), torch.tensor([5, 2, 4])
    packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    out, (h_n, _) = lstm(packed)
    out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=True)  # (B, T, 2H)
    expected = torch.cat([h_n[0], h_n[1]], dim=1)  # (B, 2H): forward final, backward final
    torch.testing.assert_close(last_pool(out, lengths, bidirectional=True), expected)


ALL_METHODS = ["last", "mean", "max", "attention", "max_mean"]


@pytest.mark.parametrize("method", ALL_METHODS)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_padding_garbage_changes_nothing(method, bidirectional):
    torch.manual_seed(0)
    pool = Pooling(method, 6, bidirectional=bidirectional, attention_size=5)
    x, lengths = torch.randn(4, 7, 6), torch.tensor([7, 2, 1, 5])
    padding = ~lengths_to_mask(lengths, 7)  # (B, T)
    clean = x.masked_fill(padding.unsqueeze(2), 0.0)
    results = []
    for garbage in (clean, x, x + 1e6 * padding.unsqueeze(2), x.masked_fill(padding.unsqueeze(2), float("nan"))):
        garbage = garbage.clone().requires_grad_()
        pooled, weights = pool(garbage, lengths)
        pooled.sum().backward()
        assert torch.isfinite(garbage.grad).all() and (garbage.grad[padding] == 0).all()
        results.append((pooled, weights))
    for pooled, weights in results[1:]:
        torch.testing.assert_close(pooled, results[0][0])
        if method == "attention":
            torch.testing.assert_close(weights, results[0][1])


def test_attention_weights_zero_at_padding_and_sum_to_one():
    torch.manual_seed(0)
    attention = AttentionPooling(4, attention_size=3)
    x, lengths = torch.randn(3, 5, 4), torch.tensor([5, 1, 3])
    pooled, weights = attention(x, lengths)
    assert weights.shape == (3, 5) and pooled.shape == (3, 4)
    padding = ~lengths_to_mask(lengths, 5)
    assert (weights[padding] == 0).all() and (weights >= 0).all()
    torch.testing.assert_close(weights.sum(dim=1), torch.ones(3))
    assert weights[1, 0].item() == 1.0  # a length-1 sequence puts all its weight on step 0
    torch.testing.assert_close(pooled, (weights.unsqueeze(2) * x).sum(dim=1))


def test_attention_matches_its_equation():
    torch.manual_seed(0)
    attention = AttentionPooling(2, attention_size=3)
    x, lengths = torch.randn(1, 4, 2), torch.tensor([3])
    W, b, v = attention.proj.weight, attention.proj.bias, attention.score.weight[0]
    u = torch.stack([v @ torch.tanh(W @ x[0, t] + b) for t in range(3)])  # scores of real steps
    a = torch.exp(u) / torch.exp(u).sum()
    pooled, weights = attention(x, lengths)
    torch.testing.assert_close(weights[0], torch.cat([a, torch.zeros(1)]))
    torch.testing.assert_close(pooled[0], (a.unsqueeze(1) * x[0, :3]).sum(dim=0))


@pytest.mark.parametrize("method, size", [("last", 6), ("mean", 6), ("max", 6), ("attention", 6), ("max_mean", 12)])
def test_output_sizes(method, size):
    pool = Pooling(method, 6)
    pooled, weights = pool(torch.randn(2, 3, 6), torch.tensor([3, 1]))
    assert pool.output_size == size and pooled.shape == (2, size)
    assert (weights is not None) == (method == "attention")
    if weights is not None:
        assert weights.shape == (2, 3)


def test_errors():
    x, lengths = torch.randn(2, 3, 4), torch.tensor([3, 1])
    with pytest.raises(ValueError, match="method must be one of last, mean, max, attention, max_mean"):
        Pooling("sum", 4)
    with pytest.raises(ValueError, match="input_size must be even"):
        Pooling("last", 5, bidirectional=True)
    with pytest.raises(ValueError, match="x must have 3 dimensions"):
        mean_pool(x[0], lengths)
    with pytest.raises(ValueError, match=r"lengths must have shape \(B,\) = \(2,\)"):
        max_pool(x, torch.tensor([3, 1, 2]))
    with pytest.raises(ValueError, match="lengths must be an integer tensor"):
        last_pool(x, lengths.float())
    with pytest.raises(ValueError, match="lengths must be between 1 and T = 3"):
        Pooling("mean", 4)(x, torch.tensor([3, 0]))
    with pytest.raises(ValueError, match="lengths must be between 1 and T = 3"):
        Pooling("attention", 4)(x, torch.tensor([4, 1]))
    with pytest.raises(ValueError, match="x: expected feature size 5"):
        Pooling("max", 5)(x, lengths)
    with pytest.raises(ValueError, match="x: bidirectional last pooling needs an even feature size"):
        last_pool(torch.randn(2, 3, 3), lengths, bidirectional=True)
