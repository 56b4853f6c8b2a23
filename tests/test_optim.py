"""Training utilities: the weight EMA follows its formula and swaps weights in and out cleanly."""
import torch
from torch import nn

from aecodec.optim import WeightEMA


def test_weight_ema_update_matches_formula_with_warmup_and_applied_restores_live_weights():
    torch.manual_seed(0)
    model = nn.Linear(3, 2)
    ema = WeightEMA(model, decay=0.9)
    w0 = model.weight.detach().clone()
    with torch.no_grad():
        model.weight.add_(1.0)
    ema.update(model)
    d = 1 / 10  # first update: the warm-up rule (1 + 0) / (10 + 0) is below the decay 0.9
    expected = d * w0 + (1 - d) * (w0 + 1.0)
    assert torch.allclose(ema.shadow["weight"], expected)
    ema.updates = 1000  # late in a run the configured decay holds
    before = ema.shadow["weight"].clone()
    ema.update(model)
    assert torch.allclose(ema.shadow["weight"], 0.9 * before + 0.1 * model.weight)
    live = model.weight.detach().clone()
    with ema.applied(model):
        assert torch.equal(model.weight, ema.shadow["weight"])
    assert torch.equal(model.weight, live)  # restored, also after an exception:
    try:
        with ema.applied(model):
            raise RuntimeError
    except RuntimeError:
        pass
    assert torch.equal(model.weight, live)


def test_weight_ema_state_round_trip():
    model = nn.Linear(3, 2)
    a, b = WeightEMA(model, 0.99), WeightEMA(nn.Linear(3, 2), 0.99)
    a.update(nn.Linear(3, 2))
    b.load_state_dict(a.state_dict())
    assert all(torch.equal(a.shadow[k], b.shadow[k]) for k in a.shadow) and b.updates == a.updates == 1
