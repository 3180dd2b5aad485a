"""lstmkit.nn LSTM/GRU/RNN against torch.nn, with weights copied both ways.

The reference for padded batches is torch.nn on a PackedSequence of the same batch.
"""

import itertools

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from lstmkit.nn import GRU, LSTM, RNN
from lstmkit.nn.rnn import ALIGNED_MAX_BATCH

TOL = dict(atol=1e-5, rtol=1e-5)
I, H, T, B = 5, 6, 7, 4  # noqa: E741 - input size, as in torch.nn.LSTM's docs

KINDS = {
    "lstm": (LSTM, torch.nn.LSTM, {}),
    "gru": (GRU, torch.nn.GRU, {}),
    "rnn": (RNN, torch.nn.RNN, {}),
    "rnn_relu": (RNN, torch.nn.RNN, {"nonlinearity": "relu"}),
}


def make_pair(kind, num_layers, bidirectional, batch_first, engine, seed=0):
    ours_cls, torch_cls, extra = KINDS[kind]
    torch.manual_seed(seed)
    ref = torch_cls(I, H, num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first, **extra)
    ours = ours_cls(I, H, num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first,
                    engine=engine, **extra)
    ours.load_state_dict(ref.state_dict())
    return ours, ref


def run_torch(ref, x, hx, lengths, batch_first):
    """torch.nn on a PackedSequence (or the plain tensor when lengths is None)."""
    if lengths is None:
        return ref(x, hx)
    packed = pack_padded_sequence(x, lengths, batch_first=batch_first, enforce_sorted=False)
    out, hidden = ref(packed, hx)
    out, _ = pad_packed_sequence(out, batch_first=batch_first, total_length=T)
    return out, hidden


def flat(hidden):
    return list(hidden) if isinstance(hidden, tuple) else [hidden]


CASES = list(itertools.product(
    ["lstm", "gru", "rnn", "rnn_relu"],  # kind
    [1, 2],  # num_layers
    [False, True],  # bidirectional
    [False, True],  # batch_first
    [False, True],  # with hx
    [False, True],  # with lengths
    ["fused", "reference"],
))


@pytest.mark.parametrize("kind,num_layers,bidirectional,batch_first,with_hx,with_lengths,engine", CASES)
def test_matches_torch_forward_and_gradients(kind, num_layers, bidirectional, batch_first, with_hx, with_lengths,
                                             engine):
    ours, ref = make_pair(kind, num_layers, bidirectional, batch_first, engine)
    D = 2 if bidirectional else 1
    g = torch.Generator().manual_seed(1)
    x = torch.randn((B, T, I) if batch_first else (T, B, I), generator=g)
    lengths = torch.tensor([T, 3, 5, 1]) if with_lengths else None
    hx = None
    if with_hx:
        h0 = torch.randn(num_layers * D, B, H, generator=g)
        hx = (h0, torch.randn(num_layers * D, B, H, generator=g)) if kind == "lstm" else h0
    if with_lengths:  # garbage in the padding must not matter
        pad = ~(torch.arange(T).unsqueeze(1) < lengths.unsqueeze(0))  # (T, B)
        pad = pad.t() if batch_first else pad
        x = x.masked_fill(pad.unsqueeze(-1), 3.0)

    x_ours = x.clone().requires_grad_(True)
    x_ref = x.clone().requires_grad_(True)
    out, hidden = ours(x_ours, hx, lengths=lengths)
    ref_out, ref_hidden = run_torch(ref, x_ref, hx, lengths, batch_first)

    torch.testing.assert_close(out, ref_out, **TOL)
    for a, b in zip(flat(hidden), flat(ref_hidden)):
        torch.testing.assert_close(a, b, **TOL)

    # Gradients of a loss touching every output, w.r.t. the input and every parameter.
    w = torch.randn(out.shape, generator=g)
    ws = [torch.randn(s.shape, generator=g) for s in flat(hidden)]

    def loss(o, hid):
        return (o * w).sum() + sum((s * v).sum() for s, v in zip(flat(hid), ws))

    loss(out, hidden).backward()
    loss(ref_out, ref_hidden).backward()
    torch.testing.assert_close(x_ours.grad, x_ref.grad, **TOL)
    ref_params = dict(ref.named_parameters())
    for name, p in ours.named_parameters():
        torch.testing.assert_close(p.grad, ref_params[name].grad, **TOL, msg=lambda m, n=name: f"{n}: {m}")


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_state_dict_loads_both_ways(kind):
    ours_cls, torch_cls, extra = KINDS[kind]
    ours = ours_cls(I, H, num_layers=2, bidirectional=True)
    ref = torch_cls(I, H, num_layers=2, bidirectional=True)
    assert list(ours.state_dict()) == list(ref.state_dict())
    for (k, a), (_, b) in zip(ours.state_dict().items(), ref.state_dict().items()):
        assert a.shape == b.shape, k
    ref.load_state_dict(ours.state_dict())
    x = torch.randn(T, B, I)
    torch.testing.assert_close(ours(x)[0], ref(x)[0], **TOL)


def test_no_bias_matches_torch():
    ref = torch.nn.LSTM(I, H, bias=False, bidirectional=True)
    ours = LSTM(I, H, bias=False, bidirectional=True)
    ours.load_state_dict(ref.state_dict())
    x, lengths = torch.randn(T, B, I), torch.tensor([2, T, 4, 1])
    out, (h, c) = ours(x, lengths=lengths)
    ref_out, (rh, rc) = run_torch(ref, x, None, lengths, False)
    torch.testing.assert_close(out, ref_out, **TOL)
    torch.testing.assert_close(c, rc, **TOL)


def test_random_lengths_long_sequences_fused_equals_reference():
    torch.manual_seed(3)
    fused = LSTM(8, 16, num_layers=2, bidirectional=True, batch_first=True)
    reference = LSTM(8, 16, num_layers=2, bidirectional=True, batch_first=True, engine="reference")
    reference.load_state_dict(fused.state_dict())
    x = torch.randn(16, 40, 8)
    lengths = torch.randint(1, 41, (16,))
    a, (ha, ca) = fused(x, lengths=lengths)
    b, (hb, cb) = reference(x, lengths=lengths)
    torch.testing.assert_close(a, b, **TOL)
    torch.testing.assert_close(ha, hb, **TOL)
    torch.testing.assert_close(ca, cb, **TOL)


BUCKET_CASES = list(itertools.product(
    ["lstm", "gru", "rnn"],  # kind (the plain RNN has no freeze column: it is never bucketed)
    [1, 2],  # num_layers
    [False, True],  # bidirectional
    [False, True],  # with hx
    [(1, 17), (3, 23), (2, 40), (4, 32)],  # (B, T): T at least one bucket, not always a multiple
    [False, True],  # with lengths
))


@pytest.mark.parametrize("kind,num_layers,bidirectional,with_hx,shape,with_lengths", BUCKET_CASES)
def test_inference_on_bucketed_steps_matches_torch(kind, num_layers, bidirectional, with_hx, shape, with_lengths):
    """In eval mode on the CPU the kernel runs on step counts padded to multiples of 16 (frozen
    steps in front of unpadded batches, a rounded-down prefix in padded ones). Bugs: a frozen
    front step that moves the LSTM's h, the reverse direction's h_n read after the front padding,
    the padded steps left in the output."""
    batch, steps = shape
    ours, ref = make_pair(kind, num_layers, bidirectional, True, "fused", seed=steps)
    ours.eval()
    torch.manual_seed(steps + num_layers)
    x = torch.randn(batch, steps, I)
    lengths = None
    if with_lengths:
        lengths = torch.randint(1, steps + 1, (batch,))
        lengths[0] = steps
    hx = None
    if with_hx:
        h0 = torch.randn(num_layers * (2 if bidirectional else 1), batch, H)
        hx = (h0, torch.randn_like(h0)) if kind == "lstm" else h0
    with torch.no_grad():
        out, hidden = ours(x, hx, lengths=lengths)
        if lengths is None:
            ref_out, ref_hidden = ref(x, hx)
        else:
            packed, ref_hidden = ref(pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False), hx)
            ref_out, _ = pad_packed_sequence(packed, batch_first=True, total_length=steps)
    assert out.shape == ref_out.shape
    torch.testing.assert_close(out, ref_out, **TOL)
    for a, b in zip(flat(hidden), flat(ref_hidden)):
        torch.testing.assert_close(a, b, **TOL)


def test_single_inputs_of_many_lengths_meet_few_kernel_shapes(monkeypatch):
    """oneDNN builds (about 2 ms) and caches a kernel per input shape; lstmkit caps its cache at
    64. Bug: inference on single texts of 400 lengths asks for 400 shapes again (each call a
    rebuild), or training or large batches get bucketed too (extra padded steps for nothing)."""
    lstm = LSTM(I, H, bidirectional=True, batch_first=True).eval()
    shapes = set()
    kernel = lstm._kernel

    def spy(x, *args):
        shapes.add((tuple(x.shape), args[-2]))  # (steps, batch, inputs), bidirectional
        return kernel(x, *args)

    monkeypatch.setattr(lstm, "_kernel", spy)
    with torch.no_grad():
        for steps in range(1, 401):
            lstm(torch.randn(1, steps, I))
    assert len(shapes) <= 40, len(shapes)
    assert all(s[0][0] < 16 or s[0][0] % 16 == 0 for s in shapes)
    shapes.clear()
    with torch.no_grad():  # a large batch pays a rebuild once for many sequences: its own steps
        lstm(torch.randn(ALIGNED_MAX_BATCH + 1, 37, I))
    assert shapes == {((37, ALIGNED_MAX_BATCH + 1, I), True)}
    shapes.clear()
    lstm.train()
    lstm(torch.randn(1, 37, I))
    assert shapes == {((37, 1, I), True)}


def test_padded_outputs_are_zero():
    lstm = LSTM(I, H, bidirectional=True, batch_first=True)
    lengths = torch.tensor([T, 2, 5, 1])
    out, _ = lstm(torch.randn(B, T, I), lengths=lengths)
    for b, n in enumerate(lengths.tolist()):
        assert torch.all(out[b, n:] == 0)
        assert torch.all(out[b, :n].abs().sum(-1) > 0)


def _directions(lengths):
    """(suffix of the weight names, key in the gates dict, column slice of the output, step order)."""
    return [("", "l0", slice(0, H), range(T)), ("_reverse", "l0_reverse", slice(H, 2 * H), range(T - 1, -1, -1))]


def _layer_weights(layer, suffix):
    """The layer-0 weights of one direction, split per gate: W_ih (G*H, I) -> G blocks (H, I)."""
    names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    return [getattr(layer, f"{name}_l0{suffix}").chunk(layer.num_gates, 0) for name in names]


def test_lstm_return_gates_rebuild_the_states_from_the_weights():
    """Each returned gate equals its equation computed here from the weights (gate order i, f, g, o),
    and c_t = f*c_{t-1} + i*g, h_t = o*tanh(c_t) rebuilt from the returned gates give the layer's
    output and (h_n, c_n), both directions, padded batch.

    Bugs caught: gates returned under each other's names (i and g give the same c, so the names
    are checked against the weights), the reverse direction's gates in the forward slot,
    gates from the wrong time step, non-zero gates at padding."""
    torch.manual_seed(0)
    lstm = LSTM(I, H, bidirectional=True, batch_first=True, engine="fused")
    x, lengths = torch.randn(B, T, I), torch.tensor([T, 3, 5, 1])
    with torch.no_grad():
        out, (h_n, c_n), gates = lstm(x, lengths=lengths, return_gates=True)
        plain_out, _ = lstm(x, lengths=lengths)
    torch.testing.assert_close(out, plain_out, **TOL)
    assert set(gates) == {"l0", "l0_reverse"}
    for d, (suffix, key, cols, steps) in enumerate(_directions(lengths)):
        got = gates[key]
        assert set(got) == {"i", "f", "g", "o", "c"} and got["c"].shape == (B, T, H)
        (W_ii, W_if, W_ig, W_io), (W_hi, W_hf, W_hg, W_ho), (b_ii, b_if, b_ig, b_io), (b_hi, b_hf, b_hg, b_ho) = \
            _layer_weights(lstm, suffix)
        h_prev, c_prev = torch.zeros(B, H), torch.zeros(B, H)
        for t in steps:
            valid = (t < lengths).unsqueeze(-1)  # (B, 1)
            x_t = x[:, t]
            expected = {
                "i": torch.sigmoid(x_t @ W_ii.T + b_ii + h_prev @ W_hi.T + b_hi),
                "f": torch.sigmoid(x_t @ W_if.T + b_if + h_prev @ W_hf.T + b_hf),
                "g": torch.tanh(x_t @ W_ig.T + b_ig + h_prev @ W_hg.T + b_hg),
                "o": torch.sigmoid(x_t @ W_io.T + b_io + h_prev @ W_ho.T + b_ho),
            }
            for name, value in expected.items():
                torch.testing.assert_close(got[name][:, t], value * valid, **TOL, msg=f"{key} {name} t={t}")
            c_t = got["f"][:, t] * c_prev + got["i"][:, t] * got["g"][:, t]
            h_t = got["o"][:, t] * torch.tanh(c_t)
            torch.testing.assert_close(got["c"][:, t], c_t * valid, **TOL)
            torch.testing.assert_close(out[:, t, cols], h_t * valid, **TOL)
            h_prev, c_prev = torch.where(valid, h_t, h_prev), torch.where(valid, c_t, c_prev)
        torch.testing.assert_close(h_n[d], h_prev, **TOL)
        torch.testing.assert_close(c_n[d], c_prev, **TOL)
    for g in gates["l0"].values():  # zero at padding
        assert torch.all(g[1, 3:] == 0)


def test_gru_return_gates_rebuild_the_states_from_the_weights():
    """r, z, n equal their equations computed here from the weights (gate order r, z, n):
    r = σ(W_ir x + b_ir + W_hr h + b_hr), z = σ(W_iz x + b_iz + W_hz h + b_hz),
    n = tanh(W_in x + b_in + r * (W_hn h + b_hn)); and h_t = (1 - z) * n + z * h_{t-1} rebuilt
    from the returned gates gives the layer's output and h_n, both directions, padded batch.

    Bugs caught: r and z returned under each other's names (the key-only check passed that),
    r applied outside (W_hn h + b_hn), h_t = z*n + (1-z)*h, gates of the wrong direction or step."""
    torch.manual_seed(1)
    gru = GRU(I, H, bidirectional=True, batch_first=True)
    x, lengths = torch.randn(B, T, I), torch.tensor([T, 3, 5, 1])
    with torch.no_grad():
        out, h_n, gates = gru(x, lengths=lengths, return_gates=True)
        plain_out, plain_h = gru(x, lengths=lengths)
    torch.testing.assert_close(out, plain_out, **TOL)
    torch.testing.assert_close(h_n, plain_h, **TOL)
    assert set(gates) == {"l0", "l0_reverse"}
    for d, (suffix, key, cols, steps) in enumerate(_directions(lengths)):
        got = gates[key]
        assert set(got) == {"r", "z", "n"}
        (W_ir, W_iz, W_in), (W_hr, W_hz, W_hn), (b_ir, b_iz, b_in), (b_hr, b_hz, b_hn) = _layer_weights(gru, suffix)
        h_prev = torch.zeros(B, H)
        for t in steps:
            valid = (t < lengths).unsqueeze(-1)
            x_t = x[:, t]
            r = torch.sigmoid(x_t @ W_ir.T + b_ir + h_prev @ W_hr.T + b_hr)
            z = torch.sigmoid(x_t @ W_iz.T + b_iz + h_prev @ W_hz.T + b_hz)
            n = torch.tanh(x_t @ W_in.T + b_in + r * (h_prev @ W_hn.T + b_hn))
            for name, value in {"r": r, "z": z, "n": n}.items():
                torch.testing.assert_close(got[name][:, t], value * valid, **TOL, msg=f"{key} {name} t={t}")
            h_t = (1 - got["z"][:, t]) * got["n"][:, t] + got["z"][:, t] * h_prev
            torch.testing.assert_close(out[:, t, cols], h_t * valid, **TOL)
            h_prev = torch.where(valid, h_t, h_prev)
        torch.testing.assert_close(h_n[d], h_prev, **TOL)


def test_rnn_gates_are_the_hidden_states():
    """The RNN's only "gate" is h_t itself: it must equal the output (bug: pre-activation returned)."""
    rnn = RNN(I, H)
    x = torch.randn(T, B, I)
    with torch.no_grad():
        out, _, gates = rnn(x, return_gates=True)
    assert set(gates["l0"]) == {"h"}
    torch.testing.assert_close(gates["l0"]["h"], out, **TOL)


def test_orthogonal_init():
    lstm = LSTM(I, H, num_layers=2, init="orthogonal")
    w = lstm.weight_hh_l1[H : 2 * H]  # forget-gate block
    torch.testing.assert_close(w @ w.t(), torch.eye(H), atol=1e-5, rtol=0)
    assert torch.all(lstm.bias_ih_l0[H : 2 * H] == 1) and torch.all(lstm.bias_hh_l0 == 0)
    assert torch.all(lstm.bias_ih_l0[:H] == 0)


def test_dropout_between_layers_only_in_training():
    lstm = LSTM(I, H, num_layers=2, dropout=0.5)
    x = torch.randn(T, B, I)
    lstm.eval()
    torch.testing.assert_close(lstm(x)[0], lstm(x)[0])
    lstm.train()
    torch.manual_seed(0)
    a = lstm(x, lengths=torch.tensor([T, 2, 3, 4]))[0]
    torch.manual_seed(1)
    b = lstm(x, lengths=torch.tensor([T, 2, 3, 4]))[0]
    assert not torch.allclose(a, b)


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda m: m(torch.randn(T, I)), "input must be a 3-D"),
        (lambda m: m(torch.randn(T, B, I + 1)), "input_size"),
        (lambda m: m(torch.randn(T, B, I), lengths=torch.tensor([T + 1, 1, 1, 1])), "lengths must be <="),
        (lambda m: m(torch.randn(T, B, I), lengths=torch.tensor([0, 1, 1, 1])), "lengths must be >= 1"),
        (lambda m: m(torch.randn(T, B, I), lengths=torch.tensor([1, 1])), "lengths must be a 1-D"),
        (lambda m: m(torch.randn(T, B, I), lengths=torch.tensor([1.0, 1, 1, 1])), "lengths must hold integers"),
        (lambda m: m(torch.randn(T, B, I), torch.zeros(1, B, H)), "hx must be a tuple"),
        (lambda m: m(torch.randn(T, B, I), (torch.zeros(2, B, H), torch.zeros(1, B, H))), "hx: h_0"),
    ],
)
def test_bad_input_raises_value_error_naming_the_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call(LSTM(I, H))


@pytest.mark.parametrize(
    "kwargs,match",
    [({"engine": "cuda"}, "engine"), ({"init": "zeros"}, "init"), ({"dropout": 1.5}, "dropout"),
     ({"num_layers": 0}, "num_layers")],
)
def test_bad_constructor_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LSTM(I, H, **kwargs)
